"""Layer 3: network gear (switches, access points) configured over their vendor CLI."""
