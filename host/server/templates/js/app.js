// A Karman Runnable: `run` gets the request body (or message payload) and returns this step's
// output. Build it with `karman build` (or `npm run build`).
import { RunError, req, runnable } from '@karman/sdk';

export const run = runnable((input) => {
  const name = req.urlParam('name') ?? 'world';
  if (input.length > 1024) throw new RunError(413, 'the input is too large');
  return `Hello, ${name}!`;
});
