"""Make the TLS and node-authentication material for a comity Flower deployment.

    python deploy/make_certs.py --out deploy/certs --host superlink --host 127.0.0.1 \
        --node lumen-tea --node north-outfitters --node jade-beauty

Writes ca.crt, server.pem, server.key (SuperLink: --ssl-ca-certfile/--ssl-certfile/
--ssl-keyfile) and <node>.key / <node>.pub per SuperNode (`flwr supernode register
<node>.pub`, then `flower-supernode --auth-supernode-private-key <node>.key`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from federation.runtime.certificates import make_certificates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--host", action="append", default=[],
                    help="SuperLink DNS name or IP (repeat); default localhost, 127.0.0.1")
    ap.add_argument("--node", action="append", default=[], help="SuperNode name (repeat)")
    ap.add_argument("--days", type=int, default=365)
    args = ap.parse_args()
    certs = make_certificates(args.out, hosts=args.host or ["localhost", "127.0.0.1"],
                              nodes=args.node, days=args.days)
    print(f"CA {certs.ca_cert}; SuperLink {certs.server_cert}; "
          f"{len(certs.node_keys)} SuperNode key pairs in {args.out}")


if __name__ == "__main__":
    main()
