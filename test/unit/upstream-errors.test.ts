/**
 * How failures of OpenRouter (or of the way to it) read: by error class, never by class name, since the packaged
 * server is minified and its class names are not the SDK's.
 */
import assert from 'node:assert/strict';
import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { ErrorCodes } from '../../protocol';
import { mapUpstreamError } from '../../server/openrouter/errors';

describe('upstream errors', () => {
  it('a connection that fails is "cannot reach OpenRouter", whatever the class is called after bundling', () => {
    // A minifier renames classes: the mapping must not depend on the name.
    class Xy extends APIConnectionError {}
    for (const e of [
      new APIConnectionError({ message: 'Connection error.' }),
      new Xy({ message: 'Connection error.' }),
    ]) {
      const mapped = mapUpstreamError(e, Date.now());
      assert.equal(mapped.code, ErrorCodes.UpstreamUnavailable);
      assert.match(mapped.message, /^cannot reach OpenRouter: Connection error\./);
    }
  });

  it('a timeout is a timeout, and an error without a status inside a stream is a broken stream', () => {
    assert.equal(mapUpstreamError(new APIConnectionTimeoutError(), Date.now()).code, ErrorCodes.UpstreamTimeout);
    const broken = mapUpstreamError(
      new APIError(undefined, { message: 'Provider disconnected' }, 'Provider disconnected', undefined),
      Date.now(),
    );
    assert.equal(broken.code, ErrorCodes.UpstreamStreamError);
    assert.match(broken.message, /mid-stream/);
  });
});
