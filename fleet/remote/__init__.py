"""Layer 5: remote actions on devices (pyinfra operations, fabric diagnostics)."""
