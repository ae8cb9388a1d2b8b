/**
 * Colours for canvases (charts cannot read CSS variables themselves): the `--vscode-*` theme variables, which VS
 * Code sets on the page and the pages' own stylesheet defines for the browser (light and dark palettes).
 */

/** Read on <body>: VS Code's variables are set on <html> and inherited; the theme class on <body> adjusts ours. */
function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** Series colours: VS Code's chart colours first, then the page's own extras (12 in all, as many as a stack has). */
export function palette(): string[] {
  const names = ['blue', 'orange', 'green', 'purple', 'red', 'yellow'].map((c) => `--vscode-charts-${c}`);
  const extras = Array.from({ length: 6 }, (_, i) => `--crew-chart-${i + 7}`);
  return [...names, ...extras].map((n) => cssVar(n, '#888888'));
}

export interface ChartTheme {
  foreground: string;
  grid: string;
  font: string;
  limit: string;
  projection: string;
  spent: string;
}

export function chartTheme(): ChartTheme {
  return {
    foreground: cssVar('--vscode-charts-foreground', cssVar('--vscode-foreground', '#616161')),
    grid: cssVar('--vscode-charts-lines', 'rgba(128, 128, 128, 0.3)'),
    font: cssVar('--vscode-font-family', 'system-ui, sans-serif'),
    limit: cssVar('--vscode-charts-red', '#e51400'),
    projection: cssVar('--vscode-charts-orange', '#d18616'),
    spent: cssVar('--vscode-charts-blue', '#1a85ff'),
  };
}

/**
 * Calls `cb` when the theme changes: VS Code swaps the body's theme class and the variables on <html>; a browser
 * flips prefers-color-scheme. Returns the unsubscribe function.
 */
export function onThemeChange(cb: () => void): () => void {
  const observer = new MutationObserver(cb);
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  const media = matchMedia('(prefers-color-scheme: dark)');
  media.addEventListener('change', cb);
  return () => {
    observer.disconnect();
    media.removeEventListener('change', cb);
  };
}

/** A colour with transparency, for fills under lines (`#rrggbb` and `rgb()` colours; others are left opaque). */
export function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})/i.exec(color);
  if (hex) return `rgba(${parseInt(hex[1]!, 16)}, ${parseInt(hex[2]!, 16)}, ${parseInt(hex[3]!, 16)}, ${alpha})`;
  const rgb = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/i.exec(color);
  if (rgb) return `rgba(${rgb[1]}, ${rgb[2]}, ${rgb[3]}, ${alpha})`;
  return color;
}
