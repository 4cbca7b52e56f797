"""The alliance operated for real, every party its own process: a coordinator (`comity serve`
over TLS, a Flower SuperLink with TLS and node authentication; PostgreSQL where one is
reachable) and three brand nodes (`comity node start`), each brand in its own directory with
its own keys and config. Brands are added, each imports its CRM's consent export, `comity
train churn` and `comity train recommend` complete on the deployment runtime, the model
reaches a brand, `comity recommend` runs there, the DPO report shows both runs. No brand
process, config or run config holds the coordinator's database URL or master key, and one
brand's token reads neither another brand's consents nor a model it did not help train."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from federation.brand.wire_mod import CAPTURE_ENV
from federation.data.catalogue import write_catalogue
from federation.data.features import CHURN_FEATURES
from federation.data.silo import write_silo
from federation.data.synthetic import catalogue, generate_alliance
from federation.demo import CONSENT_MAP, crm_export
from federation.gate.wire import STRING_FIELDS
from federation.models.churn import build_model
from federation.models.recommend import build_recommender
from federation.runtime.certificates import make_certificates
from federation.runtime.deployment import LocalDeployment, free_port
from privacy.keys import secret_file

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]
SCALE = 0.12


def _comity(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600
            ) -> subprocess.CompletedProcess[str]:
    import time
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"comity {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    print(f"TIMING {time.perf_counter() - t0:6.1f}s comity {' '.join(args[:3])}")
    return proc


def _environ(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().replace(b"\0", b"\n").decode(
            errors="replace")
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    from federation.runtime.deployment import _descendants as walk

    return walk(pid)


@pytest.fixture
def coordinator_url(tmp_path: Path) -> str:
    base = os.environ.get("COMITY_TEST_POSTGRES_URL")
    if not base:
        return f"sqlite:///{tmp_path / 'coordinator' / 'comity.db'}"
    from sqlalchemy import create_engine, text

    name = f"comity_alliance_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.rsplit("/", 1)[0] + f"/{name}"


def test_three_brands_and_a_coordinator_as_separate_processes(tmp_path: Path,
                                                              coordinator_url: str) -> None:
    coord = tmp_path / "coordinator"
    coord.mkdir(exist_ok=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("COMITY_")}
    keys = coord / "keys"
    coord_env = {**base_env, "COMITY_DATABASE_URL": coordinator_url,
                 "COMITY_KEY_DIR": str(keys), "PYTHONUNBUFFERED": "1"}
    certs = make_certificates(coord / "certs", hosts=["localhost", "127.0.0.1"])
    master = secret_file("master.key", 32, keys).hex()  # the coordinator's, made up front
    api_port = free_port()
    api = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(api_port),
                            "--ssl-certfile", str(certs.server_cert),
                            "--ssl-keyfile", str(certs.server_key)],
                           env=coord_env, cwd=coord, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    api_url = f"https://127.0.0.1:{api_port}"
    try:
        _wait_https(api_url, certs.ca_cert)
        silos = generate_alliance(seed=13, scale=SCALE)
        published = write_catalogue(catalogue(tuple(s.spec for s in silos)), coord)
        brands = [s.spec.brand_id for s in silos]
        configs: dict[str, Path] = {}
        tokens: dict[str, str] = {}
        for s in silos:
            b = s.spec.brand_id
            _comity(["brand", "add", b, "--name", s.spec.name, "--jurisdiction", "pipl"],
                    coord_env, coord)
            tokens[b] = _comity(["token", "create", "--role", f"brand:{b}",
                                 "--principal", f"{b}-node"], coord_env, coord).stdout.strip()
            # What the operator hands a brand: its token, the CA, the catalogue.
            home = tmp_path / b
            home.mkdir()
            (home / "handed-token").write_text(tokens[b])
            shutil.copy(certs.ca_cert, home / "ca.crt")
            shutil.copy(published, home / "catalogue.csv")
            brand_env = {**base_env, "PYTHONUNBUFFERED": "1"}
            path = Path(_comity(["node", "init", str(home), "--brand", b, "--api", api_url,
                                 "--token-file", str(home / "handed-token"),
                                 "--root-certificates", str(home / "ca.crt")],
                                brand_env, home).stdout.strip())
            configs[b] = path
            write_silo(s, home / "silo")
            crm_export(s).to_csv(home / "crm" / "consents.csv", index=False)
            (home / "crm" / "consent_map.yaml").write_text(CONSENT_MAP)
            report = json.loads(_comity(["consent", "import", "--config", str(path)],
                                        brand_env, home).stdout)
            assert report["created"] > 0 and report["synced_events"] == report["created"]
            again = json.loads(_comity(["consent", "import", "--config", str(path)],
                                       brand_env, home).stdout)
            assert again["created"] == 0 and again["replayed"] == report["created"]

        wire = coord / "wire"
        dep = LocalDeployment(coord / "deploy", configs, certificates=certs, node_auth=True,
                              coordinator_env={"COMITY_DATABASE_URL": coordinator_url,
                                               "COMITY_KEY_DIR": str(keys)},
                              brand_env={CAPTURE_ENV: str(wire)})
        with dep:
            train_env = {**coord_env, "FLWR_HOME": str(dep.flwr_home)}
            churn = json.loads(_comity(["train", "churn", "--brands", ",".join(brands),
                                        "--rounds", "1", "--app-dir", str(ROOT)],
                                       train_env, coord, timeout=900).stdout)
            rec = json.loads(_comity(["train", "recommend", "--brands", ",".join(brands),
                                      "--rounds", "1", "--catalogue", str(published),
                                      "--app-dir", str(ROOT)],
                                     train_env, coord, timeout=900).stdout)
            assert "TLS disabled" not in dep.log("superlink")
            assert churn["status"] == rec["status"] == "completed"
            assert churn["model_version"] == 1 and 0.0 < churn["final"]["auc"] <= 1.0
            assert "hr10" in rec["final"]
            # No brand process (SuperNode and the ClientApps it ran) ever held the
            # coordinator's database URL, master key or key directory.
            for b, (_, node) in dep.supernodes.items():
                for pid in [node.pid, *_descendants(node.pid)]:
                    env = _environ(pid)
                    assert coordinator_url not in env and master not in env, b
                    assert "COMITY_KEY_DIR" not in env and "COMITY_DATABASE_URL" not in env
        for path in configs.values():
            for f in path.parent.rglob("*"):
                if f.is_file() and f.suffix in (".toml", ".yaml", ".csv", ".key", ".pub", ""):
                    text = f.read_bytes()
                    assert coordinator_url.encode() not in text and master.encode() not in text
        item_side = {tuple(a.shape) for a in build_recommender(1, len(published.read_text()
                                                                     .split()) - 1, 32)
                     .item_weights()}
        _assert_only_tensors_and_metrics(wire, brands, item_side)
        runs = json.loads(_comity(["runs", "show", churn["run_id"]], coord_env, coord).stdout)
        assert runs["metrics"]["secure_aggregation"] is True
        assert coordinator_url not in json.dumps(runs["settings"])
        assert sorted(x["brand_id"] for x in runs["brands"]) == sorted(brands)

        one = brands[0]
        lines = _comity(["recommend", "--config", str(configs[one]), "--k", "3"],
                        {**base_env}, configs[one].parent).stdout.splitlines()
        recs = [json.loads(line) for line in lines]
        raw_ids = set(silos[0].customers["customer_id"])
        assert recs and not any(r["subject"] in raw_ids for r in recs)
        assert all(r["items"] for r in recs)  # everyone gets a list; who gets which says why
        assert all(r["personalized"] or r["rule_id"] in (
            "serving.model_below_baseline", "serving.no_history") or "Art. 24" in
            r["explanation"] for r in recs)

        with httpx.Client(base_url=api_url, verify=str(certs.ca_cert)) as http:
            mine = {"Authorization": f"Bearer {tokens[one]}"}
            assert http.get("/v1/consents", params={"brand_id": brands[1]}, headers=mine
                            ).status_code == 403
            assert http.get(f"/v1/brands/{brands[1]}/subjects", headers=mine
                            ).status_code == 403
            assert http.get("/v1/models/churn/latest", headers=mine).status_code == 200

        out = coord / "report.json"
        _comity(["report", "--period", "2026", "--out", str(out)], coord_env, coord)
        report = json.loads(out.read_text())
        done = {r["model"] for r in report["training_runs"] if r["status"] == "completed"}
        assert done == {"churn", "recommend"}
        assert report["audit"]["by_action"].get("serving.recommended") == 1
    finally:
        api.terminate()
        api.wait(timeout=30)


def _wait_https(url: str, ca: Path, timeout: float = 60) -> None:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if httpx.get(url + "/healthz", verify=str(ca)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the API did not come up at {url}")


def _assert_only_tensors_and_metrics(wire: Path, brands: list[str],
                                     extra_shapes: set[tuple[int, ...]]) -> None:
    """Everything each SuperNode let out: model-shaped masked tensors, scalar metrics, SecAgg+
    key material and the declared gate fields; nothing shaped like the brand's customers."""
    model_shapes = {tuple(p.shape) for p in build_model(len(CHURN_FEATURES), "mlp").parameters()}
    assert sorted(f.stem for f in wire.glob("*.jsonl")) == sorted(brands)
    kinds: set[str] = set()
    for brand in brands:
        for line in (wire / f"{brand}.jsonl").read_text(encoding="utf-8").splitlines():
            cap = json.loads(line)
            assert cap["violations"] == [], cap["violations"]
            for e in cap["entries"]:
                kinds.add(e["kind"])
                if e["kind"] == "masked-array":
                    assert tuple(e["shape"]) in model_shapes | extra_shapes | {(1,)}, e
                elif e["kind"] == "metric":
                    assert e["shape"] == [] and e["dtype"] in ("int", "float"), e
                elif e["kind"] == "config" and "str" in e["dtype"]:
                    assert (e["record"], e["key"]) in STRING_FIELDS, e
                elif e["kind"] == "config" and "bytes" in e["dtype"]:
                    assert e["record"] == "secaggplus_configs", e
    assert kinds == {"masked-array", "metric", "config"}  # no plain tensor left in the clear
