"""Test actor for leakhound-sampler's integration tests.

Reads one command per line on stdin, changes its own resources accordingly and answers one line
starting with "ok" on stdout once the change is in place. Only 127.0.0.1 is ever used.
"""
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

held = []          # objects kept alive on purpose (files, pipes, buffers, sockets)
children = []      # Popen objects of direct children
extra_pids = []    # PIDs of processes that are not our children any more (reparented)
stop = threading.Event()
listener = None
client = None
accepted = None


def reply(*words):
    sys.stdout.write(" ".join(["ok"] + [str(w) for w in words]) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    cmd, *args = line.split()
    if cmd == "ping":
        # Start-up (reading this script, imports) is over once we answer.
        reply()
    elif cmd == "files":
        for _ in range(int(args[0])):
            held.append(open(os.devnull, "rb"))
        reply()
    elif cmd == "pipes":
        for _ in range(int(args[0])):
            held.append(os.pipe())
        reply()
    elif cmd == "epoll":
        held.append(select.epoll())
        reply()
    elif cmd == "listen":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        reply(listener.getsockname()[1])
    elif cmd == "share_listener":
        # A child that inherits the listening socket: one socket, two descriptors.
        p = subprocess.Popen(["sleep", "60"], pass_fds=[listener.fileno()])
        children.append(p)
        reply(p.pid)
    elif cmd == "connect":
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        reply()
    elif cmd == "peer_close":
        # The client side closes; the accepted side is never closed: CLOSE_WAIT.
        client.close()
        client = None
        time.sleep(0.2)
        reply()
    elif cmd == "alloc":
        # bytes of 0x01 are written, so every page is resident (not the shared zero page).
        held.append(b"\x01" * (int(args[0]) * 1024 * 1024))
        reply()
    elif cmd == "threads":
        for _ in range(int(args[0])):
            t = threading.Thread(target=stop.wait, daemon=True)
            t.start()
        reply()
    elif cmd == "spawn":
        p = subprocess.Popen(["sleep", "60"])
        children.append(p)
        reply(p.pid)
    elif cmd == "zombie":
        p = subprocess.Popen(["true"])
        held.append(p)  # never waited for while we run
        # Wait until it has exited (state Z) without reaping it.
        while True:
            with open(f"/proc/{p.pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.01)
        reply(p.pid)
    elif cmd == "orphan":
        # A middle process that starts a grandchild and waits for us to release it.
        middle = subprocess.Popen(
            ["sh", "-c", "sleep 60 & echo $!; read x"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        grandchild = int(middle.stdout.readline())
        # Wait until the forked shell has exec'd sleep, so its name is settled.
        while True:
            with open(f"/proc/{grandchild}/comm") as f:
                if f.read().strip() == "sleep":
                    break
            time.sleep(0.01)
        children.append(middle)
        extra_pids.append(grandchild)
        reply(middle.pid, grandchild)
    elif cmd == "release":
        # Let every middle process exit; its grandchild is reparented.
        for p in children:
            if p.stdin:
                p.stdin.close()
                p.wait()
        reply()
    elif cmd == "reap":
        for pid in extra_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in children:
            p.kill()
            p.wait()
        children.clear()
        extra_pids.clear()
        time.sleep(0.1)  # reparented ones are reaped by init, not by us
        reply()
    elif cmd == "exit":
        break
    else:
        sys.stdout.write(f"error unknown command {cmd}\n")
        sys.stdout.flush()
