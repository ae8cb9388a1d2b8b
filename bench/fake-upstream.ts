/** The fake OpenRouter in its own process, so the benchmarked server does not share an event loop with it. */
import { startFakeOpenRouter } from '../test/fixtures/fake-openrouter';

void (async () => {
  const fake = await startFakeOpenRouter({ port: 0 });
  process.send?.({ url: fake.url });
  process.on('disconnect', () => void fake.close().then(() => process.exit(0)));
})();
