"""How the same ServerApp and ClientApp run: Flower's in-process simulation (one wrapper,
`simulation.run_in_simulation`) and the deployment runtime on loopback (a SuperLink and a
SuperNode per brand as processes, TLS certificates, node authentication). May import both
parties; nothing below it imports it."""
