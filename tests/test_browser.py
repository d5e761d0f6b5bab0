"""What a Playwright session leaves behind never fails another test (`tests/browser.py`)."""

import asyncio
import gc
import sys
import threading

from tests.browser import WAITPID_THREAD, leftovers_collected


def test_a_subprocess_outliving_its_loop_leaves_nothing_to_complain_later() -> None:
    """Without `leftovers_collected`, the transport, stream and pipes of a process that
    outlived its loop complain (`ResourceWarning`, errors in this suite) once the process
    ends and they are collected: in whichever test happens to be running then."""

    async def start_a_process() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import time; time.sleep(0.3)",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )

    with leftovers_collected():
        loop = asyncio.new_event_loop()
        process = loop.run_until_complete(start_a_process())
        loop.close()  # as Playwright's sync API may, its driver still running
        del process

    later: list[object] = []
    reported, sys.unraisablehook = sys.unraisablehook, later.append
    try:
        for thread in threading.enumerate():
            if thread.name.startswith(WAITPID_THREAD):
                thread.join()
        gc.collect()
    finally:
        sys.unraisablehook = reported
    assert later == []
