"""The pricing team's implementation of `acme:pricing/calc`, in Python.

It exports the interface the team's WIT package declares (`wit/deps/acme-pricing`, a link to
the package's own directory) and reads its discount rules through `wasi:config/store`, from
the `config:` the Directive gives this component alone: the components that import
`acme:pricing/calc` cannot read them, and cannot change them.
"""

from wit_world import exports
from wit_world.imports import store
from wit_world.exports.calc import Line, PriceError_BadQuantity, PriceError_Empty, Quote
from componentize_py_types import Err


def setting(key: str, default: int) -> int:
    """A whole-number setting of `config:`, or `default` when it is not set."""
    value = store.get(key)
    return default if value is None else int(value)


class Calc(exports.Calc):
    def price(self, lines: list[Line]) -> Quote:
        if not lines:
            raise Err(PriceError_Empty())
        most = setting("max-quantity", 1000)
        for line in lines:
            if not 0 < line.quantity <= most:
                raise Err(PriceError_BadQuantity(f"{line.sku}: {line.quantity} (1 to {most})"))
        subtotal = sum(line.quantity * line.unit_cents for line in lines)
        items = sum(line.quantity for line in lines)
        discount = setting("bulk-discount-percent", 0) if items >= setting("bulk-items", 10) else 0
        return Quote(subtotal, discount, subtotal * (100 - discount) // 100)
