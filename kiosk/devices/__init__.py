"""The station's five-piece kit: one module per device family, simulators beside them, discovery."""
