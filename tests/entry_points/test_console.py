"""The console scripts' guard: a Ctrl-C while a program's modules load is raised once the import is done, never
inside it (inside the C++ of torch's import it would end the process in ``terminate``)."""

import signal
import sys

import pytest

from sdegan import console

SELF_INTERRUPTING_MODULE = """
import signal, threading, time
# A Ctrl-C in the middle of the import, to the main thread (in a fresh program every thread blocks it then; in
# the test process other threads may not, so the signal is sent to the main thread itself).
signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
time.sleep(0.05)
COMPLETED = True

def main():
    pass
"""


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="signal masks are POSIX")
def test_ctrl_c_during_the_import_is_raised_after_it(tmp_path, monkeypatch):
    (tmp_path / "self_interrupting_entry.py").write_text(SELF_INTERRUPTING_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "self_interrupting_entry", raising=False)
    with pytest.raises(KeyboardInterrupt):
        console._import_entry_point("self_interrupting_entry")
    assert sys.modules["self_interrupting_entry"].COMPLETED  # the import ran to its end
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())  # unblocked again


def test_an_interrupted_start_ends_in_one_line(tmp_path, monkeypatch):
    (tmp_path / "self_interrupting_entry2.py").write_text(SELF_INTERRUPTING_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SystemExit, match="prog interrupted while starting; nothing was written"):
        console._run("prog", "self_interrupting_entry2")
