/**
 * `crew clusters`: a crew's memories grouped into topics by the server (k-means over the embeddings, labelled by
 * their most distinctive terms). Computing shows live progress on a terminal (`$/progress`); `--list` shows the
 * kept results without computing.
 */
import type { Command } from 'commander';
import { ClustersCompute, ClustersList, type ClusteringInfo } from '../../protocol';
import type { CrewClient } from '../client/connection';
import { withContext, type Context } from '../context';
import { UsageError } from '../errors';
import { count, when, type Column } from '../output';
import { positiveInt } from '../parse';
import { example } from './help';
import { contentsOf, preview, renderFractionProgress, requestWithProgress } from './memory';

const num3 = (n: number) => n.toFixed(3);

type ClusterRow = ClusteringInfo['clusters'][number] & { representative: string };

async function printClustering(
  ctx: Context,
  client: CrewClient,
  infos: (ClusteringInfo & { stale?: boolean })[],
): Promise<void> {
  const list = ctx.out.format === 'list';
  const contents = await contentsOf(
    client,
    infos.flatMap((i) => i.clusters.map((c) => c.representativeId)),
  );
  const { c } = ctx.out;
  infos.forEach((info, n) => {
    if (n > 0) ctx.out.line();
    const head = [
      `crew ${info.crew}`,
      `k=${info.k}`,
      `silhouette ${num3(info.silhouette)}`,
      `${count(info.memories)} memories`,
      `${info.embedderId}`,
      `computed ${list ? info.computedAt : when(info.computedAt)}`,
    ].join(' · ');
    ctx.out.line(c.bold(head));
    if (info.stale) ctx.out.line(c.yellow('stale: memories changed since; compute again for an exact picture'));
    if (info.candidates.length)
      ctx.out.line(c.dim(`k tried: ${info.candidates.map((k) => `${k.k} (${num3(k.silhouette)})`).join(', ')}`));
    const rows: ClusterRow[] = info.clusters.map((cl) => {
      const text = contents.get(cl.representativeId);
      return { ...cl, representative: text === null || text === undefined ? '(deleted)' : text };
    });
    const columns: Column<ClusterRow>[] = [
      { key: 'id', header: '#', align: 'right' },
      { key: 'label', header: 'CLUSTER' },
      { key: 'size', header: 'SIZE', align: 'right', text: (r) => count(r.size) },
      { key: 'cohesion', header: 'COHESION', align: 'right', text: (r) => num3(r.cohesion) },
      ...(list
        ? [
            { key: 'representativeId', header: 'REPRESENTATIVE ID' },
            { key: 'memberIds', header: 'MEMBERS' },
          ]
        : []),
      {
        key: 'representative',
        header: 'REPRESENTATIVE',
        text: (r) => preview(r.representative, list ? Infinity : 60),
      },
    ];
    if (rows.length === 0) ctx.out.line('no clusters: no memory of this crew has an embedding yet');
    else if (list) ctx.out.list(columns, rows);
    else ctx.out.table(columns, rows);
    if (info.unclusteredIds.length)
      ctx.out.line(c.dim(`${count(info.unclusteredIds.length)} blank memories left out (nothing to cluster by)`));
  });
}

interface ClustersOptions {
  crew?: string;
  k?: number;
  kMin?: number;
  kMax?: number;
  list?: boolean;
}

export function registerClusters(program: Command): void {
  program
    .command('clusters')
    .description("group a crew's memories into topics (label, size, cohesion, a representative memory)")
    .option('--crew <id>', 'the crew to cluster (required to compute; with --list, only this crew)')
    .option('--k <n>', 'exactly n clusters (default: the best k by silhouette)', positiveInt)
    .option('--k-min <n>', 'smallest k to try (default 2)', positiveInt)
    .option('--k-max <n>', 'largest k to try (default 12)', positiveInt)
    .option('--list', 'show the last computed result of each crew instead of computing')
    .addHelpText(
      'after',
      example('crew clusters --crew ops', 'crew clusters --crew ops --k-min 3 --k-max 8', 'crew clusters --list'),
    )
    .action(
      withContext(async (ctx, opts: ClustersOptions) => {
        if (opts.list) {
          if (opts.k !== undefined || opts.kMin !== undefined || opts.kMax !== undefined)
            throw new UsageError('--list shows kept results; --k, --k-min and --k-max only apply when computing');
          const client = await ctx.connect();
          const params: ClustersList.Params = opts.crew ? { crew: opts.crew } : {};
          const res = await client.request<ClustersList.Result>(ClustersList.method, params);
          if (ctx.out.json) return ctx.out.printJson(res);
          if (res.results.length === 0)
            return ctx.out.note(
              `no clusters computed yet${opts.crew ? ` for crew ${opts.crew}` : ''}; compute with: crew clusters --crew <id>`,
            );
          return printClustering(ctx, client, res.results);
        }
        if (!opts.crew)
          throw new UsageError('--crew <id> is required to compute clusters (or --list to show kept ones)');
        if (opts.k !== undefined && (opts.kMin !== undefined || opts.kMax !== undefined))
          throw new UsageError('give either --k or a range (--k-min/--k-max), not both');
        if (opts.kMin !== undefined && opts.kMax !== undefined && opts.kMin > opts.kMax)
          throw new UsageError(`--k-min ${opts.kMin} is above --k-max ${opts.kMax}`);
        if (opts.kMin === 1 || opts.kMax === 1) throw new UsageError('--k-min and --k-max must be at least 2');
        const client = await ctx.connect();
        const params: ClustersCompute.Params = { crew: opts.crew };
        if (opts.k !== undefined) params.k = opts.k;
        if (opts.kMin !== undefined) params.kMin = opts.kMin;
        if (opts.kMax !== undefined) params.kMax = opts.kMax;
        const res = await requestWithProgress<ClustersCompute.Result>(ctx, client, ClustersCompute.method, params, {
          start: `clustering crew ${opts.crew}…`,
          render: renderFractionProgress(`clustering ${opts.crew}`),
        });
        if (ctx.out.json) return ctx.out.printJson(res);
        await printClustering(ctx, client, [res]);
      }),
    );
}
