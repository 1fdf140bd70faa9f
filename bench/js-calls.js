// A JavaScript Runnable that calls into the host 200 times: 100 `req.method()` (no argument,
// a string back) and 100 `req.queryParam('case')` (a string each way). bench/js-tuning.sh
// builds it with and without the bindings' debug logging and compares the two.
import { req, runnable } from '@karman/sdk';

export const run = runnable(() => {
  let length = 0;
  for (let i = 0; i < 100; i++) {
    length += req.method().length + (req.queryParam('case') ?? '').length;
  }
  return String(length);
});
