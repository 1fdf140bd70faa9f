// Step 2 (JavaScript): the greeting of step 1, shouted.
import { RunError, req, runnable } from '@karman/sdk';

export const run = runnable(() => {
  const greeting = req.stateText('greet');
  if (greeting === undefined) throw new RunError(500, 'no greeting to shout');
  return `${greeting.toUpperCase()}!`;
});
