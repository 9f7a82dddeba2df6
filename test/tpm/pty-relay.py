# Test harness: exposes a swtpm unix socket as a character device (a raw pseudo-terminal), so the
# device: transport's open/write/read path runs through the kernel against a real TPM simulator.
# Prints the pty path, relays bytes both ways, exits when stdin closes.
import os, pty, select, socket, sys, tty

master, slave = pty.openpty()
tty.setraw(slave)  # no echo, no line discipline: bytes pass unchanged
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1])
print(os.ttyname(slave), flush=True)
# Keeping `slave` open means the master never sees EIO between the collector's open/close cycles.
while True:
    ready, _, _ = select.select([master, sock, sys.stdin], [], [])
    if master in ready:
        sock.sendall(os.read(master, 65536))
    if sock in ready:
        data = sock.recv(65536)
        if not data:
            break
        os.write(master, data)
    if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1):
        break
