"""A program written for ``multiprocessing``; ``python bar_program.py MODULE`` runs it with
``import MODULE as mp`` (``multiprocessing`` or ``lithops.multiprocessing``)."""

import importlib
import sys

mp = importlib.import_module(sys.argv[1] if len(sys.argv) > 1 else "multiprocessing")


def square(x):
    return x * x


def producer(q, n):
    for i in range(n):
        q.put(("item", i))
    q.put(None)


def echo(conn):
    while True:
        msg = conn.recv()
        if msg == "stop":
            conn.send("bye")
            return
        conn.send(msg.upper())


def add_many(counter, lock, times):
    for _ in range(times):
        with lock:
            counter.value += 1


def fill(shared, key):
    shared[key] = key * 10


if __name__ == "__main__":
    with mp.Pool(2) as pool:
        print("pool.map", pool.map(square, range(8)))
        print("pool.starmap", pool.starmap(pow, [(2, 3), (3, 2)]))

    q = mp.Queue()
    p = mp.Process(target=producer, args=(q, 5))
    p.start()
    got = []
    while (item := q.get()) is not None:
        got.append(item)
    p.join()
    print("queue", got, "exitcode", p.exitcode)

    parent, child = mp.Pipe()
    p = mp.Process(target=echo, args=(child,))
    p.start()
    for word in ["a", "bc"]:
        parent.send(word)
        print("pipe", parent.recv())
    parent.send("stop")
    print("pipe", parent.recv())
    p.join()

    counter = mp.Value("i", 0)
    lock = mp.Lock()
    procs = [mp.Process(target=add_many, args=(counter, lock, 20)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    print("value", counter.value, [p.exitcode for p in procs])

    with mp.Manager() as manager:
        shared = manager.dict()
        procs = [mp.Process(target=fill, args=(shared, k)) for k in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        print("manager.dict", sorted(shared.items()))
