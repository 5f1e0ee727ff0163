"""punte: payments to Romanian invoices and RO e-Factura."""

__version__ = "0.1.0"
