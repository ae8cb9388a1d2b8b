/**
 * The two charts (chart.js, with only the controllers, elements and plugins they use registered): spend per day
 * stacked by model or agent, and a budget's forecast against its limit. Charts are redrawn whole on new data or a
 * theme change; animation is off, so a redraw is instant and what a screenshot shows is final.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import { formatDateTime, formatDay, formatUsd } from '../../protocol/format';
import { chartTheme, withAlpha } from './theme';
import type { ForecastChart, StackedChart } from './view-models/costs';

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Filler,
  Legend,
  Tooltip,
);

function common(): Pick<ChartConfiguration, 'options'>['options'] & object {
  const t = chartTheme();
  Chart.defaults.color = t.foreground;
  Chart.defaults.font.family = t.font;
  Chart.defaults.borderColor = t.grid;
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: 'index', intersect: false },
  };
}

function axisUsd(v: number): string {
  return v === 0 ? '$0' : formatUsd(v);
}

/** A time axis tick: days over a long span; hours too over a day or two, where days alone would repeat. */
function axisTime(v: number, spanMs: number): string {
  const iso = new Date(v).toISOString();
  return spanMs > 3 * 86_400_000 ? formatDay(iso) : `${formatDay(iso)} ${iso.slice(11, 16)}`;
}

function legendPosition(canvas: HTMLCanvasElement): 'bottom' | 'right' {
  return (canvas.parentElement?.clientWidth ?? 0) < 560 ? 'bottom' : 'right';
}

export function drawStacked(canvas: HTMLCanvasElement, data: StackedChart): Chart {
  Chart.getChart(canvas)?.destroy();
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels: data.labels,
      datasets: data.datasets.map((d) => ({
        label: d.label,
        data: d.data,
        backgroundColor: d.color,
        borderWidth: 0,
        stack: 'spend',
      })),
    },
    options: {
      ...common(),
      plugins: {
        legend: { position: legendPosition(canvas), labels: { boxWidth: 12 } },
        tooltip: {
          callbacks: {
            title: (items) => data.days[items[0]?.dataIndex ?? 0] ?? '',
            label: (item) => `${item.dataset.label ?? ''}: ${formatUsd(item.parsed.y ?? 0)}`,
          },
          filter: (item) => (item.parsed.y ?? 0) > 0,
        },
      },
      scales: {
        x: { stacked: true, grid: { display: false }, ticks: { autoSkip: true, maxRotation: 0 } },
        y: { stacked: true, beginAtZero: true, ticks: { callback: (v) => axisUsd(Number(v)) } },
      },
    },
  });
}

export function drawForecast(canvas: HTMLCanvasElement, f: ForecastChart): Chart {
  Chart.getChart(canvas)?.destroy();
  const t = chartTheme();
  return new Chart(canvas, {
    type: 'line',
    data: {
      datasets: [
        { label: 'Spent', data: f.spent, borderColor: t.spent, backgroundColor: t.spent, pointRadius: 3 },
        {
          label: 'Projected',
          data: f.projected,
          borderColor: t.projection,
          backgroundColor: t.projection,
          borderDash: [6, 4],
          pointRadius: 3,
        },
        { label: 'low', data: f.low, borderColor: 'transparent', pointRadius: 0, fill: false },
        {
          label: 'Range',
          data: f.high,
          borderColor: 'transparent',
          backgroundColor: withAlpha(t.projection, 0.2),
          pointRadius: 0,
          fill: '-1',
        },
        {
          label: 'Limit',
          data: f.limit,
          borderColor: t.limit,
          backgroundColor: t.limit,
          pointRadius: 0,
          borderWidth: 2,
        },
      ],
    },
    options: {
      ...common(),
      interaction: { mode: 'nearest', intersect: false },
      plugins: {
        legend: {
          position: 'bottom',
          // Lines as lines (the projection dashed), the range as a swatch.
          labels: {
            boxWidth: 24,
            usePointStyle: true,
            generateLabels: (chart) =>
              Chart.defaults.plugins.legend.labels
                .generateLabels(chart)
                .filter((item) => item.text !== 'low')
                .map((item) => (item.text === 'Range' ? item : { ...item, pointStyle: 'line' as const })),
          },
        },
        tooltip: {
          filter: (item) => item.dataset.label !== 'low' && item.dataset.label !== 'Range',
          callbacks: {
            title: (items) => formatDateTime(new Date(items[0]?.parsed.x ?? 0).toISOString()),
            label: (item) => `${item.dataset.label ?? ''}: ${formatUsd(item.parsed.y ?? 0)}`,
          },
        },
      },
      scales: {
        x: {
          type: 'linear',
          // The period itself, without the padding a linear scale would add around it.
          min: f.limit[0]?.x,
          max: f.limit[f.limit.length - 1]?.x,
          grid: { display: false },
          ticks: {
            maxTicksLimit: 6,
            callback: (v) => axisTime(Number(v), (f.limit[f.limit.length - 1]?.x ?? 0) - (f.limit[0]?.x ?? 0)),
          },
        },
        y: { beginAtZero: true, ticks: { callback: (v) => axisUsd(Number(v)) } },
      },
    },
  });
}
