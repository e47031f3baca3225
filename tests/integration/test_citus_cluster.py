"""``make citus-up`` / ``citus-down`` / ``citus-status`` (``citus.cluster``): clear errors for what
the user can fix. (On the running cluster: tests/integration/test_citus.py, where no other
test stops a node meanwhile.)"""

from __future__ import annotations

import socket

import pytest

from citus import cluster


def test_no_shared_folder_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "SOURCE", tmp_path / "vendor" / "citus-13.2.2.tar.gz")
    with pytest.raises(cluster.ClusterError, match=r"Citus source not found: .*\.\./shared/vendor"):
        cluster.build()


def test_a_missing_compiler_is_a_clear_error(tmp_path, monkeypatch):
    source = tmp_path / "citus-13.2.2.tar.gz"
    source.write_bytes(b"not built yet")
    monkeypatch.setattr(cluster, "SOURCE", source)
    monkeypatch.setattr(cluster, "BUILD_STAMP", tmp_path / "pginstall" / ".citus-build")
    monkeypatch.setattr(cluster.shutil, "which", lambda tool: None if tool == "gcc" else "/usr/bin/" + tool)
    with pytest.raises(cluster.ClusterError, match="gcc not found .*apt-get install -y gcc make"):
        cluster.build()


def test_a_port_in_use_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "NODES_DIR", tmp_path / "nodes")
    with socket.socket() as holder:
        holder.bind((cluster.HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(cluster.ClusterError, match=f"port {port} \\(worker1\\) is in use by another process"):
            cluster.start_node(cluster.Node("worker1", port))


def test_ports_come_from_citus_port_until_the_nodes_exist(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "STATE_FILE", tmp_path / "cluster.json")
    monkeypatch.setenv("CITUS_PORT", "19800")
    assert [(n.name, n.port) for n in cluster.nodes()] == [("coordinator", 19800), ("worker1", 19801),
                                                           ("worker2", 19802)]
