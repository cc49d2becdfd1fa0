"""Run by tests/test_cluster_faults.py in its own process: a one-node Ray cluster that
other processes try to join. Prints ``ADDRESS host:port``, then reads commands from stdin:
``claim-version V`` makes the cluster report Ray version V to whoever joins (the record
``ray.init`` compares with its own version), as a head of that version would; end of input
shuts the cluster down.

Token authentication follows the environment (``RAY_AUTH_MODE``, ``RAY_AUTH_TOKEN``)."""

from __future__ import annotations

import json
import sys

import ray
from ray._common.usage import usage_constants, usage_lib
from ray._private import ray_constants
from ray.cluster_utils import Cluster


def claim_version(address: str, version: str) -> None:
    ray.init(address=address, configure_logging=False, log_to_driver=False)
    try:
        client = ray._private.worker.global_worker.gcs_client
        metadata = usage_lib.get_cluster_metadata(client)
        metadata["ray_version"] = version
        client.internal_kv_put(usage_constants.CLUSTER_METADATA_KEY, json.dumps(metadata).encode(), True,
                               namespace=ray_constants.KV_NAMESPACE_CLUSTER)
    finally:
        ray.shutdown()


def main() -> None:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        print(f"ADDRESS {cluster.address}", flush=True)
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "claim-version":
                claim_version(cluster.address, arg)
                print("CLAIMED", flush=True)
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    main()
