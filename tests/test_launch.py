"""Tests of distgrad-run (the `launch` package): command building for every path, output
tagging, job-script rendering, errors; and real local runs through mpiexec (marked mpi)."""

import io
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from launch_util import (ALLREDUCE_SCRIPT, EXIT3_ON_RANK1_SCRIPT, REPO, launcher,  # noqa: E402
                         mpi_missing_reason, write_script)

from launch import cli, mpi, output, slurm  # noqa: E402
from launch.debug import build_debug_command  # noqa: E402
from launch.errors import LaunchError  # noqa: E402

HYDRA_VERSION = """HYDRA build details:
    Version:                                 5.0.2
    Release Date:                            Fri Sep 25 20:45:26 UTC 2026
    Launchers available:                     ssh rsh fork slurm ll lsf sge manual persist
"""
OMPI5_VERSION = "mpiexec (Open MPI) 5.0.11\n\nReport bugs to https://www.open-mpi.org/community/help/\n"
OMPI4_VERSION = "mpiexec (OpenRTE) 4.1.5\n\nReport bugs to http://www.open-mpi.org/community/help/\n"

MPICH = mpi.MpiexecInfo("/venv/bin/mpiexec", mpi.MPICH, (5, 0, 2))
OMPI5 = mpi.MpiexecInfo("/venv/bin/mpiexec", mpi.OPENMPI, (5, 0, 11))
OMPI4 = mpi.MpiexecInfo("/usr/bin/mpiexec", mpi.OPENMPI, (4, 1, 5))
PROG = ["/venv/bin/python", "-m", "mpi4py", "train.py", "--lr", "0.1"]


@pytest.fixture
def script(tmp_path):
    return write_script(tmp_path, "hello.py", ALLREDUCE_SCRIPT)


# ----------------------------------------------------------------------------- detection

def test_parse_mpiexec_version():
    assert mpi.parse_mpiexec_version(HYDRA_VERSION) == (mpi.MPICH, (5, 0, 2))
    assert mpi.parse_mpiexec_version(OMPI5_VERSION) == (mpi.OPENMPI, (5, 0, 11))
    assert mpi.parse_mpiexec_version(OMPI4_VERSION) == (mpi.OPENMPI, (4, 1, 5))
    assert mpi.parse_mpiexec_version("Intel(R) MPI Library for Linux* OS, Version 2021.9")[0] == mpi.INTEL
    assert mpi.parse_mpiexec_version("something else") == (mpi.UNKNOWN, ())


def test_parse_library_version():
    assert mpi.parse_library_version("MPICH Version:      5.0.2\nMPICH Release date: ...") == mpi.MPICH
    assert mpi.parse_library_version("Open MPI v5.0.11, package: Open MPI user@localhost\x00") == mpi.OPENMPI
    assert mpi.parse_library_version("MVAPICH2 Version      :\t2.3.7") == mpi.MPICH
    assert mpi.parse_library_version("") == mpi.UNKNOWN


def test_srun_mpi_type_is_detected_not_guessed():
    assert mpi.srun_mpi_type(mpi.MPICH) == "pmi2"
    assert mpi.srun_mpi_type(mpi.OPENMPI) == "pmix"
    with pytest.raises(LaunchError, match="DISTGRAD_SRUN_MPI"):
        mpi.srun_mpi_type(mpi.UNKNOWN)


def _exe(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_find_mpiexec_prefers_the_one_next_to_python(tmp_path):
    venv, other = tmp_path / "venv" / "bin", tmp_path / "usr" / "bin"
    py = _exe(venv / "python")
    _exe(other / "mpiexec")
    assert mpi.find_mpiexec(str(py), path_env=str(other)) == str(other / "mpiexec")
    _exe(venv / "mpiexec")
    assert mpi.find_mpiexec(str(py), path_env=str(other)) == str(venv / "mpiexec")
    assert mpi.find_mpiexec(str(tmp_path / "none" / "python"), path_env=str(tmp_path)) is None


def test_thread_env():
    assert mpi.thread_env({}, ranks_per_node=4, cores=16) == {v: "4" for v in mpi.THREAD_VARS}
    assert mpi.thread_env({}, ranks_per_node=4, cores=2) == {v: "1" for v in mpi.THREAD_VARS}
    assert mpi.thread_env({"OMP_NUM_THREADS": "7"}, 2, 8) == {"OPENBLAS_NUM_THREADS": "4",
                                                             "MKL_NUM_THREADS": "4"}
    assert mpi.thread_env({}, 2, 8, cpus_per_task=3)["OMP_NUM_THREADS"] == "3"


# ----------------------------------------------------------------------------- mpiexec commands

def test_mpich_command():
    argv, env, tag = mpi.build_mpiexec_command(MPICH, 4, PROG, env={}, cores=8, is_root=True)
    assert argv[:3] == ["/venv/bin/mpiexec", "-n", "4"]
    assert argv[-len(PROG):] == PROG
    assert argv[argv.index("-prepend-pattern") + 1] == mpi.HYDRA_PREPEND_PATTERN
    assert tag == mpi.TAG_HYDRA
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "2"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert not any(k.startswith("OMPI_") for k in env)  # MPICH does not care about root
    assert "--oversubscribe" not in argv


def test_mpich_hosts_and_hostfile(tmp_path):
    argv, env, _ = mpi.build_mpiexec_command(MPICH, 8, PROG, env={}, hosts="a,b", cores=8)
    assert argv[argv.index("-hosts") + 1] == "a,b"
    assert env["OMP_NUM_THREADS"] == "2"  # 4 ranks per node on 8 cores
    hf = tmp_path / "hosts"
    hf.write_text("a:4\nb:4  # second\n\n")
    argv, _, _ = mpi.build_mpiexec_command(MPICH, 8, PROG, env={}, hostfile=str(hf), cores=8)
    assert argv[argv.index("-f") + 1] == str(hf)
    assert mpi.count_hosts(hostfile=str(hf)) == 2


def test_openmpi_command_as_root_and_oversubscribed():
    argv, env, tag = mpi.build_mpiexec_command(OMPI5, 4, PROG, env={}, cores=2, is_root=True)
    assert "--oversubscribe" in argv
    assert env["OMPI_ALLOW_RUN_AS_ROOT"] == "1" and env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] == "1"
    assert argv[argv.index("--output") + 1] == "tag" and tag == mpi.TAG_OPENMPI
    assert argv[argv.index("-x") + 1] in env  # thread variables forwarded to other hosts
    assert "-prepend-pattern" not in argv
    assert argv[-len(PROG):] == PROG


def test_openmpi_command_not_root_not_oversubscribed():
    argv, env, _ = mpi.build_mpiexec_command(OMPI5, 2, PROG, env={}, cores=2, is_root=False,
                                             hosts="a,b")
    assert "--oversubscribe" not in argv
    assert not any(k.startswith("OMPI_ALLOW") for k in env)
    assert argv[argv.index("--host") + 1] == "a,b"
    argv, _, _ = mpi.build_mpiexec_command(OMPI4, 2, PROG, env={}, cores=2, is_root=False)
    assert "--tag-output" in argv  # Open MPI 4 spelling


def test_user_thread_settings_are_kept():
    _, env, _ = mpi.build_mpiexec_command(MPICH, 2, PROG, env={"OMP_NUM_THREADS": "3",
                                                                "PYTHONUNBUFFERED": "0"}, cores=8)
    assert "OMP_NUM_THREADS" not in env and "PYTHONUNBUFFERED" not in env


# ----------------------------------------------------------------------------- srun commands

def test_srun_command_mpich_and_openmpi():
    senv = {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "8", "SLURM_JOB_NUM_NODES": "2",
            "SLURM_CPUS_ON_NODE": "16"}
    argv, env, tag = mpi.build_srun_command(PROG, "pmi2", env=senv)
    assert argv[0] == "srun" and "--mpi=pmi2" in argv and "--ntasks" not in argv
    assert "--kill-on-bad-exit=1" in argv and "--label" in argv and tag == mpi.TAG_SRUN
    assert argv[-len(PROG):] == PROG
    assert env["OMP_NUM_THREADS"] == "4"  # 16 cpus / 4 tasks per node
    argv, env, _ = mpi.build_srun_command(PROG, "pmix", env={**senv, "SLURM_CPUS_PER_TASK": "3"},
                                          nprocs=2)
    assert "--mpi=pmix" in argv and argv[argv.index("--ntasks") + 1] == "2"
    assert env["OMP_NUM_THREADS"] == "3"


def _fake_slurm(monkeypatch, flavour):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.delenv("SLURM_STEP_ID", raising=False)
    monkeypatch.delenv("DISTGRAD_SRUN_MPI", raising=False)
    monkeypatch.setattr(cli.shutil, "which", lambda name, *a, **k: f"/usr/bin/{name}")
    monkeypatch.setattr(mpi, "detect_library_flavour", lambda python: flavour)


@pytest.mark.parametrize("flavour,mpi_type", [(mpi.MPICH, "pmi2"), (mpi.OPENMPI, "pmix")])
def test_inside_allocation_uses_srun_with_detected_pmi(monkeypatch, capsys, script, flavour, mpi_type):
    _fake_slurm(monkeypatch, flavour)
    assert cli.main(["-n", "2", "--dry-run", str(script), "x"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"srun --ntasks 2 --mpi={mpi_type} .*-m mpi4py {re.escape(str(script))} x$",
                     out.strip()), out


def test_srun_mpi_override_and_launcher_choice(monkeypatch, capsys, script):
    _fake_slurm(monkeypatch, mpi.UNKNOWN)
    monkeypatch.setenv("DISTGRAD_SRUN_MPI", "pmix")
    assert cli.main(["--dry-run", str(script)]) == 0
    assert "--mpi=pmix" in capsys.readouterr().out
    monkeypatch.delenv("DISTGRAD_SRUN_MPI")
    assert cli.main(["--dry-run", str(script)]) == 2  # unknown library: refuse to guess
    assert "DISTGRAD_SRUN_MPI" in capsys.readouterr().err
    assert cli.main(["--dry-run", "--hosts", "a,b", str(script)]) == 2
    assert "--hostfile/--hosts" in capsys.readouterr().err


def test_refuses_to_nest_inside_an_srun_step(monkeypatch, capsys, script):
    _fake_slurm(monkeypatch, mpi.MPICH)
    monkeypatch.setenv("SLURM_STEP_ID", "0")
    assert cli.main(["-n", "2", "--dry-run", str(script)]) == 2
    assert "SLURM_STEP_ID" in capsys.readouterr().err


def test_outside_allocation_uses_mpiexec(monkeypatch, capsys, script):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("SLURM_STEP_ID", raising=False)
    monkeypatch.setattr(mpi, "detect_mpiexec", lambda path: mpi.MpiexecInfo(path, mpi.MPICH, (5,)))
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: object())
    assert cli.main(["-n", "3", "--dry-run", "--mpiexec", "/x/mpiexec", str(script), "a b"]) == 0
    out = capsys.readouterr().out
    assert "/x/mpiexec -n 3 -prepend-pattern $'\\x1e%r\\x1f' " in out
    assert out.strip().endswith(f"-m mpi4py {script} 'a b'")


# ----------------------------------------------------------------------------- errors

def test_error_missing_script():
    r = launcher("-n", "2", "no_such_script.py")
    assert r.returncode == 2 and "script not found: no_such_script.py" in r.stderr


@pytest.mark.parametrize("n", ["0", "-3"])
def test_error_bad_nprocs(script, n):
    r = launcher("-n", n, str(script))
    assert r.returncode == 2 and "-n must be at least 1" in r.stderr


def test_error_slurm_option_without_slurm(script):
    r = launcher("--nodes", "2", str(script))
    assert r.returncode == 2 and "--nodes needs --slurm" in r.stderr


def test_error_no_mpi(monkeypatch, capsys, script):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("SLURM_STEP_ID", raising=False)
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None)
    assert cli.main(["-n", "2", str(script)]) == 2
    err = capsys.readouterr().err
    assert 'pip install "distgrad[mpi]"' in err and "pip install mpi4py mpich" in err
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: object())
    monkeypatch.delenv("DISTGRAD_MPIEXEC", raising=False)
    monkeypatch.setattr(mpi, "find_mpiexec", lambda python, path_env=None: None)
    assert cli.main(["-n", "2", str(script)]) == 2
    err = capsys.readouterr().err
    assert "no mpiexec found" in err and 'pip install "distgrad[mpi]"' in err


def test_error_slurm_without_sbatch(script):
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    assert not (Path(sys.executable).parent / "sbatch").exists()
    r = launcher("--slurm", "--ntasks-per-node", "2", str(script), env=env)
    assert r.returncode == 2 and "sbatch" in r.stderr and "not on PATH" in r.stderr
    r = launcher("--slurm", "--ntasks-per-node", "2", "--dry-run", str(script), env=env)
    assert r.returncode == 0 and r.stdout.startswith("#!/bin/bash")  # dry run needs no sbatch


# ----------------------------------------------------------------------------- debug mode

def test_debug_command():
    argv, env = build_debug_command("train.py", ["--lr", "1"], python="/py", env={"A": "b"})
    assert argv == ["/py", "train.py", "--lr", "1"]
    assert env == {"A": "b", "DISTGRAD_DEBUG": "1"}


def test_debug_runs_one_process_in_foreground(tmp_path):
    s = write_script(tmp_path, "dbg.py", "import os, sys\n"
                     "print('DEBUG', os.environ.get('DISTGRAD_DEBUG'), sys.argv[1:],"
                     " 'mpi4py' in sys.modules)\nsys.exit(5)\n")
    r = launcher("--debug", str(s), "a", "--b")
    assert r.returncode == 5, r.output
    assert "DEBUG 1 ['a', '--b'] False" in r.stdout
    r = launcher("--debug", "-n", "4", str(s))
    assert r.returncode == 2 and "single process" in r.stderr


# ----------------------------------------------------------------------------- sbatch rendering

def test_render_job_script(tmp_path):
    spec = slurm.JobSpec(script="/w/train.py", args=["--name", "a b", "$HOME"], python="/v/bin/python",
                         nodes=2, ntasks_per_node=4, gpus_per_node=4, time="1:00:00",
                         partition="gpu", account="proj", output="out-%j.txt", extra=["--mem=8G"])
    template = slurm.find_template().read_text()
    text = slurm.render_job_script(spec, template)
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    for directive in ("--job-name=distgrad-train", "--nodes=2", "--ntasks-per-node=4",
                      "--gpus-per-node=4", "--time=1:00:00", "--partition=gpu", "--account=proj",
                      "--output=out-%j.txt", "--mem=8G"):
        assert f"#SBATCH {directive}" in lines
    assert not any(ln.startswith("#SBATCH --ntasks=") for ln in lines)
    assert 'export DISTGRAD_PYTHON="${DISTGRAD_PYTHON:-/v/bin/python}"' in lines
    assert "set -- /w/train.py --name 'a b' '$HOME'" in lines
    assert text.endswith(slurm.template_body(template))  # the body is train.sbatch's, unchanged
    f = tmp_path / "job.sbatch"
    f.write_text(text)
    assert subprocess.run(["bash", "-n", str(f)], timeout=60).returncode == 0


def test_slurm_dry_run_cli(script):
    r = launcher("--slurm", "--nodes", "2", "--ntasks-per-node", "4", "--gpus-per-node", "4",
                 "--time", "30", "--job-name", "t", "--dry-run", str(script), "--epochs", "2")
    assert r.returncode == 0, r.stderr
    assert "#SBATCH --nodes=2\n" in r.stdout and "#SBATCH --job-name=t\n" in r.stdout
    assert f"set -- {script} --epochs 2\n" in r.stdout
    assert 'exec srun --mpi="$DISTGRAD_SRUN_MPI"' in r.stdout


def test_error_bad_slurm_values(script):
    r = launcher("--slurm", "--nodes", "0", "--dry-run", str(script))
    assert r.returncode == 2 and "--nodes must be positive" in r.stderr


def test_job_scripts_share_one_body():
    train = (REPO / "slurm" / "train.sbatch").read_text()
    multi = (REPO / "slurm" / "multinode.sbatch").read_text()
    assert slurm.template_body(multi) == slurm.template_body(train)
    assert "#SBATCH --ntasks-per-node=4" in multi and "#SBATCH --gpus-per-node=4" in multi
    assert (REPO / "launch" / "templates" / "train.sbatch").read_text() == train
    for f in ("train.sbatch", "multinode.sbatch", "local-cluster.sh"):
        assert subprocess.run(["bash", "-n", str(REPO / "slurm" / f)], timeout=60).returncode == 0


def test_template_override(tmp_path, monkeypatch):
    t = tmp_path / "mine.sbatch"
    t.write_text("#!/bin/bash\n# ---- distgrad job body\necho hi\n")
    assert slurm.find_template({"DISTGRAD_SBATCH_TEMPLATE": str(t)}) == t
    with pytest.raises(LaunchError, match="body"):
        slurm.template_body("#!/bin/bash\necho no marker\n")


def test_job_exit_status():
    assert slurm.job_exit_status({"JobState": "COMPLETED", "ExitCode": "0:0"}) == 0
    assert slurm.job_exit_status({"JobState": "FAILED", "ExitCode": "3:0"}) == 3
    assert slurm.job_exit_status({"JobState": "CANCELLED", "ExitCode": "0:15"}) == 143
    assert slurm.job_exit_status({"JobState": "TIMEOUT", "ExitCode": "0:0"}) == 1
    info = slurm.parse_scontrol("JobId=5 JobName=x JobState=FAILED Reason=NonZeroExitCode "
                                "ExitCode=137:0 StdOut=/tmp/out-5.txt")
    assert info["JobState"] == "FAILED" and info["StdOut"] == "/tmp/out-5.txt"


def test_wait_for_job_streams_output(tmp_path, monkeypatch):
    out_file = tmp_path / "slurm-9.out"
    states = iter([True, True, False])

    def in_queue(job_id):
        with open(out_file, "a") as f:
            f.write("line\n")
        return next(states)

    monkeypatch.setattr(slurm, "job_in_queue", in_queue)
    monkeypatch.setattr(slurm, "job_info", lambda job_id: {"JobState": "FAILED", "ExitCode": "2:0",
                                                           "StdOut": str(out_file)})
    dest, log = io.BytesIO(), io.StringIO()
    assert slurm.wait_for_job("9", dest=dest, poll=0.01, log=log) == 2
    assert dest.getvalue() == b"line\n" * 3
    assert "job 9 FAILED" in log.getvalue()


# ----------------------------------------------------------------------------- output relay

def test_hydra_demux_splits_interleaved_chunks():
    raw = (b"\x1e0\x1fhello from\x1e1\x1fhello from 1\n\x1e0\x1f 0\npartial-"
           b"\x1e1\x1fdone\n\x1e0\x1frest\n\x1e1\x1ftail without newline")
    for step in (len(raw), 1, 3):  # whole, byte by byte, odd chunks (markers cut in two)
        d = output.HydraDemux()
        pairs = []
        for i in range(0, len(raw), step):
            pairs += d.feed(raw[i:i + step])
        pairs += d.flush()
        assert pairs == [(1, b"hello from 1\n"), (0, b"hello from 0\n"), (1, b"done\n"),
                         (0, b"partial-rest\n"), (1, b"tail without newline\n")], step


def test_line_demux_openmpi_and_srun():
    d = output.LineDemux(mpi.TAG_OPENMPI)
    assert d.feed(b"[1,0]<stdout>: a\n[1,1]<stderr>: b\nplain launcher text\n[1,1]<stdout>: c") == [
        (0, b"a\n"), (1, b"b\n"), (None, b"plain launcher text\n")]
    assert d.flush() == [(1, b"c\n")]
    d = output.LineDemux(mpi.TAG_SRUN)
    assert d.feed(b"0: x\n 11: y\nsrun: error: z\n") == [(0, b"x\n"), (11, b"y\n"),
                                                         (None, b"srun: error: z\n")]


def test_format_line_and_progress_bars():
    assert output.format_line(3, b"loss 1.0\n") == b"[rank 3] loss 1.0\n"
    assert output.format_line(0, b"10%\r50%\n") == b"[rank 0] 10%\r[rank 0] 50%\n"
    assert output.format_line(None, b"mpiexec says\n") == b"mpiexec says\n"


def test_relay_rank0_only_keeps_tail_of_hidden_ranks():
    dest = io.BytesIO()
    r = output.Relay(mpi.TAG_SRUN, dest, rank0_only=True, keep=2)
    r.feed(b"0: zero\n1: one\n1: two\n1: three\nsrun: note\n")
    r.close()
    assert dest.getvalue() == b"zero\nsrun: note\n"
    assert r.hidden_tail() == b"[rank 1] two\n[rank 1] three\n"


def test_relay_shows_a_prompt_then_the_rank_s_next_lines():
    """An unfinished line (pdb's prompt) is shown on request (when the stream idles); what the
    rank prints after the answer gets its prefix, for every demuxer; a long line passed on in
    pieces keeps its rank."""
    cases = {mpi.TAG_HYDRA: (b"\x1e1\x1f(Pdb) ", b"\x1e1\x1f1\n\x1e0\x1fok\n\x1e1\x1f2\n"),
             mpi.TAG_SRUN: (b"1: (Pdb) ", b"1\n0: ok\n1: 2\n"),
             mpi.TAG_OPENMPI: (b"[1,1]<stdout>: (Pdb) ", b"1\n[1,0]<stdout>: ok\n[1,1]<stdout>: 2\n")}
    for tag, (prompt, rest) in cases.items():
        dest = io.BytesIO()
        r = output.Relay(tag, dest, show_prompts=True)
        r.feed(prompt)
        assert dest.getvalue() == b"" and r.demux.unfinished()
        r.show_unfinished()
        assert dest.getvalue() == b"[rank 1] (Pdb) " and not r.demux.unfinished(), tag
        r.feed(rest)
        r.close()
        assert dest.getvalue() == b"[rank 1] (Pdb) [rank 1] 1\n[rank 0] ok\n[rank 1] 2\n", tag
    d = output.LineDemux(mpi.TAG_SRUN)
    long = b"x" * (output.MAX_LINE + 5)
    assert d.feed(b"2: " + long) == [(2, long)]
    assert d.feed(b"yz\n3: w\n") == [(2, b"yz\n"), (3, b"w\n")]


@pytest.mark.parametrize("interactive", [True, False])
def test_relay_pump_shows_a_prompt_only_in_an_interactive_job(interactive):
    read_fd, write_fd = os.pipe()
    dest = io.BytesIO()
    r = output.Relay(mpi.TAG_SRUN, dest, show_prompts=interactive)
    pump = threading.Thread(target=r.pump, args=(read_fd,))
    pump.start()
    try:
        os.write(write_fd, b"0: before\n0: (Pdb) ")
        deadline = time.monotonic() + (30 if interactive else 1)
        while b"(Pdb)" not in dest.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        shown = b"[rank 0] before\n" + (b"[rank 0] (Pdb) " if interactive else b"")
        assert dest.getvalue() == shown
        os.write(write_fd, b"c\n0: done\n")
    finally:
        os.close(write_fd)
        pump.join(30)
        os.close(read_fd)
    tail = b"[rank 0] c\n" if interactive else b"[rank 0] (Pdb) c\n"
    assert dest.getvalue() == b"[rank 0] before\n" + (b"[rank 0] (Pdb) " if interactive else b"") \
        + tail + b"[rank 0] done\n"


# ----------------------------------------------------------------------------- real runs

needs_mpi = pytest.mark.skipif(mpi_missing_reason() is not None, reason=str(mpi_missing_reason()))


@pytest.mark.mpi
@needs_mpi
def test_real_run_two_ranks(script):
    r = launcher("-n", "2", str(script), "--flag", "x y")
    assert r.returncode == 0, r.output
    for rank in (0, 1):
        assert f"[rank {rank}] WORLD size=2 rank={rank} sum=3 args=['--flag', 'x y']" in r.stdout
        assert f"[rank {rank}] stderr of rank {rank}" in r.stderr
    assert all(ln.startswith("[rank ") for ln in r.stdout.splitlines()), r.stdout


@pytest.mark.mpi
@needs_mpi
def test_real_run_exit_code_propagates(tmp_path):
    s = write_script(tmp_path, "exit3.py", EXIT3_ON_RANK1_SCRIPT)
    r = launcher("-n", "2", str(s))
    assert r.returncode != 0, r.output
    assert "[rank 1] rank 1 started" in r.stdout


@pytest.mark.mpi
@needs_mpi
def test_real_run_exception_aborts_job(tmp_path):
    s = write_script(tmp_path, "crash.py", "import time\nfrom mpi4py import MPI\n"
                     "c = MPI.COMM_WORLD\n"
                     "if c.rank == 1:\n    time.sleep(0.3)\n    raise RuntimeError('boom on 1')\n"
                     "c.allreduce(1)\n")
    r = launcher("-n", "2", str(s), timeout=30)
    assert r.returncode != 0
    assert "[rank 1] RuntimeError: boom on 1" in r.stderr


@pytest.mark.mpi
@needs_mpi
def test_real_run_rank0_only(script, tmp_path):
    r = launcher("-n", "2", "--rank0-only", str(script))
    assert r.returncode == 0, r.output
    assert r.stdout.splitlines() == ["WORLD size=2 rank=0 sum=3 args=[]"]
    assert "rank 1" not in r.output
    s = write_script(tmp_path, "exit3.py", EXIT3_ON_RANK1_SCRIPT)
    r = launcher("-n", "2", "--rank0-only", str(s))
    assert r.returncode != 0
    assert "[rank 1] rank 1 started" not in r.stdout  # hidden stdout stays hidden


@pytest.mark.mpi
@needs_mpi
def test_real_run_more_ranks_than_cores(script):
    n = max(3, (os.cpu_count() or 1) + 1)
    if n > 9:
        pytest.skip(f"oversubscribing needs {n} ranks here; only run on small machines")
    r = launcher("-n", str(n), "--rank0-only", str(script))
    assert r.returncode == 0, r.output
    assert f"WORLD size={n} rank=0 sum={n * (n + 1) // 2}" in r.stdout
