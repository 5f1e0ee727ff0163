"""punte.efactura: local e-Factura validation (Schematron compiler, validator, rules install)."""
