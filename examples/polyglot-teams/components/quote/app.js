// The quote team's Runnable (JavaScript): `GET /quote/:sku/:quantity?unitCents=N` answers what
// that many items cost, priced by the pricing team's `acme:pricing/calc` (implemented by
// another component of the app, in Python). The interface comes from the team's WIT package
// (wit/deps/acme-pricing, a link to the package's own directory) through this component's
// world (wit/world.wit).
import { price } from 'acme:pricing/calc@0.1.0';
import { RunError, req, resp, runnable } from '@karman/sdk';

export const run = runnable(() => {
  const sku = req.urlParam('sku');
  const quantity = Number(req.urlParam('quantity'));
  const unitCents = req.queryParam('unitCents');
  if (!Number.isInteger(quantity) || quantity < 0 || quantity > 0xffffffff) {
    throw new RunError(400, 'the quantity is not a whole number');
  }
  if (unitCents === undefined || !/^[0-9]{1,15}$/.test(unitCents)) {
    throw new RunError(400, 'give the price of one item in cents: ?unitCents=N');
  }
  let quote;
  try {
    quote = price([{ sku, quantity, unitCents: BigInt(unitCents) }]);
  } catch (error) {
    // A `result` import throws its error value as the error's `payload`.
    const reason = error.payload;
    if (reason?.tag === 'bad-quantity') {
      throw new RunError(422, `a quantity is out of range: ${reason.val}`);
    }
    if (reason?.tag === 'empty') throw new RunError(422, 'the order has no lines');
    throw error;
  }
  resp.setHeader('content-type', 'application/json');
  return JSON.stringify({
    sku,
    quantity,
    subtotalCents: Number(quote.subtotalCents),
    discountPercent: quote.discountPercent,
    totalCents: Number(quote.totalCents),
    pricedBy: 'acme:pricing/calc',
  });
});
