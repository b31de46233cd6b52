"""The emitted CI pipelines: schema-valid, their DAG is the plan's, every job runs its shard's command."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from fleet_helpers import REPO

from corpus import SCHEMAS

ARGS = ("--shards", "4", "--cache-repo", REPO, "--resolve", "offline")


@pytest.fixture
def monorepo_pipelines(planner, make_monorepo):
    root = make_monorepo()
    plan = json.loads(planner.text(root, *ARGS, "--format", "json"))

    def emit(fmt: str) -> str:
        return planner.text(root, *ARGS, "--format", fmt)

    return plan, emit


# -- GitHub Actions ----------------------------------------------------------------


def test_github_workflow_validates_and_mirrors_the_plan(monorepo_pipelines):
    plan, emit = monorepo_pipelines
    workflow = yaml.safe_load(emit("github-actions"))
    schema = json.loads((SCHEMAS / "ci" / "github-workflow.json").read_text())
    jsonschema.validate(workflow, schema)
    jobs = workflow["jobs"]
    assert list(jobs) == ["plan", *[s["id"] for s in plan["shards"]], "publish"]
    for shard in plan["shards"]:
        job = jobs[shard["id"]]
        assert job["needs"] == ["plan", *shard["needs"]]
        assert job["runs-on"] == "ubuntu-24.04"
        assert shlex.join(shard["command"]) in job["steps"][-1]["run"]
        assert any(s.get("uses", "").startswith("actions/download-artifact@") for s in job["steps"])
        assert any("pip install" in s.get("run", "") for s in job["steps"])
    assert jobs["publish"]["needs"] == ["plan", *plan["publish"]["needs"]]
    assert shlex.join(plan["publish"]["command"]) in jobs["publish"]["steps"][-1]["run"]
    assert workflow["env"] == {"BAKEC_PLAN": plan["plan"], "BAKEC_LAYOUT": plan["layout"]}
    plan_steps = jobs["plan"]["steps"]
    assert any(s.get("uses", "").startswith("actions/upload-artifact@") for s in plan_steps)


def test_github_plan_job_recomputes_the_same_plan(monorepo_pipelines, planner, make_monorepo):
    """The plan job's command line, run in a checkout, gives the plan the workflow was written for."""
    plan, emit = monorepo_pipelines
    workflow = yaml.safe_load(emit("github-actions"))
    script = next(s["run"] for s in workflow["jobs"]["plan"]["steps"] if s.get("name") == "Plan")
    argv = shlex.split(script.splitlines()[0].split(" > ")[0])
    assert argv[:2] == ["bakec", "plan"]
    # the recorded resolver was offline here; everything else comes from the plan's inputs
    again = json.loads(planner.text(make_monorepo("checkout"), *argv[2:]))
    assert again == plan


def test_github_runs_emulated_shards_on_native_runners(planner, tmp_path):
    root = tmp_path / "multi"
    root.mkdir()
    (root / "docker-bake.hcl").write_text(
        'target "default" {\n  platforms = ["linux/amd64", "linux/arm64"]\n}\n'
    )
    (root / "Dockerfile").write_text("FROM 127.0.0.1:5000/busybox:latest\nRUN echo hi > /hi\n")
    plan = json.loads(planner.text(root, "--shards", "2", "--cache-repo", REPO, "--resolve", "offline"))
    workflow = yaml.safe_load(
        planner.text(
            root, "--shards", "2", "--cache-repo", REPO, "--resolve", "offline", "--format", "github-actions"
        )
    )
    runners = {tuple(s["platforms"]): workflow["jobs"][s["id"]]["runs-on"] for s in plan["shards"]}
    assert runners[("linux/arm64",)] == "ubuntu-24.04-arm"
    assert runners[("linux/amd64",)] == "ubuntu-24.04"


# -- GitLab ------------------------------------------------------------------------


def test_gitlab_child_pipeline_needs_are_the_plan_graph(monorepo_pipelines):
    plan, emit = monorepo_pipelines
    pipeline = yaml.safe_load(emit("gitlab"))
    jobs = {k: v for k, v in pipeline.items() if not k.startswith(".") and k not in ("stages", "variables")}
    assert list(jobs) == [*[s["id"] for s in plan["shards"]], "publish"]
    graph = {s["id"]: s["needs"] for s in plan["shards"]} | {"publish": plan["publish"]["needs"]}
    commands = {s["id"]: s["command"] for s in plan["shards"]} | {"publish": plan["publish"]["command"]}
    for name, job in jobs.items():
        assert [n for n in job["needs"] if isinstance(n, str)] == graph[name]
        artifact = [n for n in job["needs"] if isinstance(n, dict)]
        assert artifact == [{"pipeline": "$PARENT_PIPELINE_ID", "job": "bakec-plan", "artifacts": True}]
        assert job["script"] == [shlex.join(commands[name])]
        assert job["extends"] == ".bakec" and job["stage"] in pipeline["stages"]
    assert any("pip install" in line for line in pipeline[".bakec"]["before_script"])


# -- Tekton ------------------------------------------------------------------------


def _strict(schema):
    """The CRD schema as the API server applies it: no x-kubernetes keywords, unknown fields refused.

    A structural schema's API server prunes unknown fields; here they are errors, so a misspelt
    field fails the test instead of vanishing.
    """
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    preserve = schema.get("x-kubernetes-preserve-unknown-fields")
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if "properties" in schema and not preserve and "additionalProperties" not in schema:
        out["additionalProperties"] = False
    return out


def _crd_schema(name: str) -> dict:
    crd = yaml.safe_load((SCHEMAS / "tekton" / name).read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return _strict(version["schema"]["openAPIV3Schema"])


def test_tekton_objects_validate_against_the_v1_crds(monorepo_pipelines):
    _, emit = monorepo_pipelines
    objects = list(yaml.safe_load_all(emit("tekton")))
    assert [o["kind"] for o in objects] == ["Task", "Pipeline", "PipelineRun"]
    files = {"Task": "300-task.yaml", "Pipeline": "300-pipeline.yaml", "PipelineRun": "300-pipelinerun.yaml"}
    for obj in objects:
        assert obj["apiVersion"] == "tekton.dev/v1"
        jsonschema.validate(obj, _crd_schema(files[obj["kind"]]))


def test_tekton_strict_schema_catches_a_misspelt_field(monorepo_pipelines):
    _, emit = monorepo_pipelines
    task = next(yaml.safe_load_all(emit("tekton")))
    task["spec"]["steps"][0]["scripts"] = task["spec"]["steps"][0].pop("script")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(task, _crd_schema("300-task.yaml"))


def test_tekton_pipeline_run_after_is_the_plan_dag_and_publish_is_guarded(monorepo_pipelines):
    plan, emit = monorepo_pipelines
    task, pipeline, run = yaml.safe_load_all(emit("tekton"))
    tasks = pipeline["spec"]["tasks"]
    assert [t["name"] for t in tasks] == [s["id"] for s in plan["shards"]]
    for t, shard in zip(tasks, plan["shards"], strict=True):
        assert t.get("runAfter", []) == shard["needs"]
        assert t["retries"] >= 1 and t["taskRef"] == {"name": task["metadata"]["name"]}
        assert {p["name"]: p["value"] for p in t["params"]}["shard"] == shard["id"]
    (publish,) = pipeline["spec"]["finally"]
    assert publish["when"] == [
        {"input": "$(tasks.status)", "operator": "in", "values": ["Succeeded", "Completed"]}
    ]
    assert task["spec"]["steps"][0]["securityContext"] == {"privileged": True}
    assert {w["name"] for w in task["spec"]["workspaces"]} == {"source", "dockerconfig"}
    assert {p["name"] for p in task["spec"]["params"]} >= {"plan", "shard"}
    assert run["spec"]["pipelineRef"] == {"name": pipeline["metadata"]["name"]}


def _substitute(script: str, params: dict[str, str]) -> str:
    for name, value in params.items():
        script = script.replace(f"$(params.{name})", value)
    assert "$(params." not in script
    return script


def test_tekton_task_script_runs_each_shards_command(monorepo_pipelines, tmp_path):
    """The Task's script, params substituted as Tekton does, runs exactly the plan's argv on the runner."""
    plan, emit = monorepo_pipelines
    task, pipeline, _ = yaml.safe_load_all(emit("tekton"))
    script = task["spec"]["steps"][0]["script"]
    defaults = {p["name"]: p.get("default", "") for p in task["spec"]["params"]}
    recorder = tmp_path / "bin" / "bakec"  # the runner's bakec: writes down the argv it was given
    recorder.parent.mkdir()
    recorder.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$BAKEC_ARGV"\n')
    recorder.chmod(recorder.stat().st_mode | stat.S_IXUSR)
    commands = {s["id"]: s["command"] for s in plan["shards"]} | {"publish": plan["publish"]["command"]}
    for t in [*pipeline["spec"]["tasks"], *pipeline["spec"]["finally"]]:
        params = defaults | {p["name"]: p["value"] for p in t["params"]}
        params["plan"] = "plan.json"  # $(params.plan) of the Pipeline: its default
        text = _substitute(script, params)
        argv_file = tmp_path / f"{t['name']}.argv"
        env = {"PATH": f"{recorder.parent}:/usr/bin:/bin", "BAKEC_ARGV": str(argv_file)}
        subprocess.run(["sh", "-c", text], env=env, check=True)
        assert argv_file.read_text().splitlines() == commands[t["name"]][1:]


def test_tekton_task_script_reaches_the_real_bakec_which_reads_the_plan_it_names(
    monorepo_pipelines, tmp_path
):
    _, emit = monorepo_pipelines
    task = next(yaml.safe_load_all(emit("tekton")))
    text = _substitute(task["spec"]["steps"][0]["script"], {"plan": "plan.json", "shard": "s1", "allow": ""})
    shim = tmp_path / "bin" / "bakec"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m bakec.cli.main "$@"\n')
    shim.chmod(0o755)
    env = dict(os.environ, PATH=f"{shim.parent}:{os.environ['PATH']}")
    result = subprocess.run(["sh", "-c", text], env=env, capture_output=True, text=True, cwd=Path(tmp_path))
    assert result.returncode == 2  # no plan.json in this directory: a usage error, nothing built
    assert "cannot read the plan plan.json" in result.stderr
