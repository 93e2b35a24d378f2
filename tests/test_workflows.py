"""The GitHub Actions workflow that tests the book, builds the website and publishes it is well formed.

GitHub runs it, not this machine, so what can be checked here is checked: every workflow file
parses; the jobs run the README's two commands (``bash scripts/test.sh``, ``bash scripts/book.sh``)
and each ``run`` script is valid bash; the website job uploads what ``scripts/book.sh`` writes
(``_build/html``) with ``actions/upload-pages-artifact``; the deploy job depends on it, has the
permissions ``actions/deploy-pages`` needs and runs only for pushes to the default branch; pip's
downloads and the shared run cache are cached; every action is pinned to a version.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    if True in workflow:  # YAML 1.1 reads the key `on` as the boolean true
        workflow["on"] = workflow.pop(True)
    return workflow


def steps(job: dict) -> list:
    return job.get("steps", [])


def uses(job: dict, action: str) -> list:
    return [s for s in steps(job) if str(s.get("uses", "")).split("@")[0] == action]


def runs(job: dict) -> str:
    return "\n".join(str(s.get("run", "")) for s in steps(job))


@pytest.fixture(scope="module")
def workflows():
    assert WORKFLOWS, "no workflow in .github/workflows"
    return {p.name: load(p) for p in WORKFLOWS}


@pytest.fixture(scope="module")
def pages(workflows):
    """The workflow that deploys to GitHub Pages and its jobs by role."""
    for name, wf in workflows.items():
        jobs = wf.get("jobs", {})
        deploy = [j for j, job in jobs.items() if uses(job, "actions/deploy-pages")]
        if deploy:
            build = [j for j, job in jobs.items() if uses(job, "actions/upload-pages-artifact")]
            return {"name": name, "workflow": wf, "jobs": jobs, "deploy": deploy, "build": build}
    pytest.fail("no workflow deploys with actions/deploy-pages")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^(bash scripts/\S+\.sh)", section, flags=re.M)


def test_every_workflow_parses_and_has_triggers_and_jobs(workflows):
    for name, wf in workflows.items():
        assert isinstance(wf, dict) and wf.get("jobs"), f"{name}: no jobs"
        assert wf.get("on"), f"{name}: no triggers"
        for job_name, job in wf["jobs"].items():
            assert job.get("runs-on"), f"{name}: job {job_name} has no runs-on"
            assert steps(job), f"{name}: job {job_name} has no steps"
            for step in steps(job):
                assert ("uses" in step) != ("run" in step), f"{name}/{job_name}: a step needs exactly one of uses/run"


def test_the_jobs_run_the_readmes_two_commands(pages):
    commands = readme_commands()
    assert commands == ["bash scripts/book.sh", "bash scripts/test.sh"], commands
    all_runs = {j: runs(job) for j, job in pages["jobs"].items()}
    for command in commands:
        assert (ROOT / command.split()[1]).is_file()
        assert any(re.search(rf"(^|\s){re.escape(command)}(\s|$)", r) for r in all_runs.values()), (
            f"no job runs `{command}`: {all_runs}"
        )
    build = pages["jobs"][pages["build"][0]]
    assert re.search(r"bash scripts/book\.sh --fresh", runs(build)), "the website must be built from scratch"


def test_every_run_script_is_valid_bash(workflows):
    for name, wf in workflows.items():
        for job_name, job in wf["jobs"].items():
            for step in steps(job):
                if "run" in step:
                    proc = subprocess.run(["bash", "-n", "-c", step["run"]], capture_output=True, text=True)
                    assert proc.returncode == 0, f"{name}/{job_name}: {step['run']!r}: {proc.stderr}"


def test_the_website_job_uploads_what_book_sh_writes(pages):
    assert len(pages["build"]) == 1
    build = pages["jobs"][pages["build"][0]]
    (upload,) = uses(build, "actions/upload-pages-artifact")
    assert upload.get("with", {}).get("path", "").rstrip("/") == "_build/html"
    assert "_build/html" in (ROOT / "scripts" / "book.sh").read_text()
    order = [s.get("uses", s.get("run", "")) for s in steps(build)]
    book = next(i for i, s in enumerate(order) if "scripts/book.sh" in s)
    assert book < order.index(upload["uses"]), "the upload must come after the build"


def test_the_deploy_job_depends_on_the_build_and_tests_and_may_deploy(pages):
    (deploy_name,) = pages["deploy"]
    deploy = pages["jobs"][deploy_name]
    needs = deploy.get("needs", [])
    needs = [needs] if isinstance(needs, str) else needs
    assert pages["build"][0] in needs, f"deploy needs {needs}, not the job that uploads the site"
    testers = [j for j, job in pages["jobs"].items() if "bash scripts/test.sh" in runs(job)]
    assert testers and all(t in needs for t in testers), "a failing test run must not publish the site"
    assert deploy.get("permissions") == {"pages": "write", "id-token": "write"}
    assert deploy.get("environment", {}).get("name") == "github-pages"
    condition = str(deploy.get("if", ""))
    assert "github.event_name == 'push'" in condition and "default_branch" in condition, condition


def test_the_workflow_runs_on_pushes_and_reads_only_by_default(pages):
    wf = pages["workflow"]
    triggers = wf["on"]
    assert "push" in (triggers if isinstance(triggers, (list, dict)) else [triggers])
    assert wf.get("permissions") == {"contents": "read"}, "write scopes belong to the deploy job only"


def test_pip_and_the_run_cache_are_cached(pages):
    cached = []
    for job in pages["jobs"].values():
        for step in uses(job, "actions/cache"):
            cached += str(step["with"]["path"]).split()
            assert step["with"].get("key"), "a cache needs a key"
    assert "~/.cache/pip" in cached
    assert "~/.cache/ncedu/runs" in cached
    build = pages["jobs"][pages["build"][0]]
    assert any("~/.cache/ncedu/runs" in str(s["with"]["path"]) for s in uses(build, "actions/cache")), (
        "the website build is the job that reuses the shared runs"
    )


def test_every_action_is_pinned_to_a_version(workflows):
    for name, wf in workflows.items():
        for job in wf["jobs"].values():
            for step in steps(job):
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+)*|[0-9a-f]{40})", step["uses"]), step["uses"]
