"""The Lithops docs' examples as the scripts users write: functions defined in ``__main__``,
work under ``if __name__ == "__main__":``, run by a fresh interpreter with zero configuration."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """\
    import lithops
    from lithops import Storage


    def hello(name):
        return f"Hello {name}!"


    def double(i):
        return i * 2


    def my_map_function(x):
        return x + 7


    def my_reduce_function(results):
        total = 0
        for map_result in results:
            total += map_result
        return total


    def my_function(obj_id, storage):
        return storage.get_cloudobject(obj_id).decode()


    def line_counter(obj):
        return len(obj.data_stream.read().splitlines())


    if __name__ == "__main__":
        fexec = lithops.FunctionExecutor()
        fexec.call_async(hello, "World")
        print("call_async", fexec.get_result())

        fexec.map(double, [1, 2, 3, 4])
        print("map", fexec.get_result())

        fexec.map_reduce(my_map_function, [1, 2, 3, 4], my_reduce_function)
        print("map_reduce", fexec.get_result())

        storage = Storage()
        storage.put_object(bucket=storage.bucket, key="test.txt", body="Hello World")
        print("storage", storage.get_object(bucket=storage.bucket, key="test.txt"))

        obj_id = storage.put_cloudobject("Hello cloud!")
        fexec.call_async(my_function, obj_id)
        print("cloudobject", fexec.get_result())

        for i in range(3):
            storage.put_object(storage.bucket, f"lines/part{i}.txt", "a\\nb\\nc\\n" * (i + 1))
        fexec.map_reduce(line_counter, f"localhost://{storage.bucket}/lines/", sum,
                         obj_chunk_size=5)
        print("partition", fexec.get_result())

        with lithops.FunctionExecutor() as fexec2:
            print("with", fexec2.map(lambda x: x - 1, range(3)).get_result())
    """
)


def test_docs_examples_run_as_a_script(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(SCRIPT)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITHOPS_")}
    env.update(HOME=str(home), LITHOPS_LOGS_DIR=str(home / "logs"))
    out = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "call_async Hello World!",
        "map [2, 4, 6, 8]",
        "map_reduce 38",
        "storage b'Hello World'",
        "cloudobject Hello cloud!",
        "partition 18",
        "with [-1, 0, 1]",
    ]
