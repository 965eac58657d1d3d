"""Randomised abuse of a running codis-proxy: many connections sending random
commands of every family (transactions, pub/sub, blocking, cluster-wide...),
random bytes and truncated requests, closing abruptly. Run it against a
proxy built with -DCODIS_SANITIZE=ON and check the proxy's log stays free of
sanitizer reports and the proxy still answers. Not part of tests/run.sh.

usage: tests/soak/proxy_fuzz.py PORT [SECONDS] [SEED]
"""
import random, socket, time, threading, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 19000
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 25
random.seed(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
CMDS = ["GET","SET","MGET","MSET","DEL","EXISTS","INCR","HSET","HGETALL","LPUSH","LRANGE","SADD","SMEMBERS","ZADD","ZRANGE",
        "MULTI","EXEC","DISCARD","WATCH","UNWATCH","SUBSCRIBE","UNSUBSCRIBE","PSUBSCRIBE","PUBLISH","BLPOP","BRPOP","SCAN","KEYS",
        "DBSIZE","RANDOMKEY","FLUSHDB","EVAL","EVALSHA","SCRIPT","FUNCTION","CONFIG","CLIENT","INFO","PING","ECHO","SELECT",
        "AUTH","HELLO","QUIT","RESET","COMMAND","TIME","WAIT","XADD","XREAD","OBJECT","TYPE","SLOTSMAPPING","PUBSUB","SORT","UNLINK","TOUCH"]
def arg():
    r = random.random()
    if r < 0.3: return random.choice(["k","k{a}","{a}x","q","ch","0","1","-1","100","*","ENCODING","LOAD","EXISTS","GET","BLOCK","STREAMS","$","COUNT","MATCH","TYPE","ASYNC"])
    if r < 0.6: return str(random.randint(-5, 2000))
    if r < 0.9: return "k%d" % random.randint(0, 50)
    return bytes(random.getrandbits(8) for _ in range(random.randint(0, 20))).decode("latin1")
def enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        b = a.encode("latin1") if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(b), b)
    return out
def worker(n):
    deadline = time.time() + SECONDS
    while time.time() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", PORT), timeout=2)
            s.settimeout(0.2)
            for _ in range(random.randint(1, 60)):
                r = random.random()
                if r < 0.9:
                    cmd = [random.choice(CMDS)] + [arg() for _ in range(random.randint(0, 6))]
                    if cmd[0] in ("BLPOP","BRPOP"): cmd = [cmd[0], "q", "0.05"]
                    if cmd[0] == "WAIT": cmd = ["WAIT", "0", "10"]
                    data = enc(cmd)
                elif r < 0.95:
                    data = bytes(random.getrandbits(8) for _ in range(random.randint(1, 200)))
                else:
                    data = enc(["SET","k","v"])[:random.randint(1, 20)]
                s.sendall(data)
                try: s.recv(65536)
                except socket.timeout: pass
            if random.random() < 0.5: s.close()
            else: s.shutdown(socket.SHUT_RDWR); s.close()
        except OSError:
            pass
ts = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
[t.start() for t in ts]; [t.join() for t in ts]
s = socket.create_connection(("127.0.0.1", PORT), timeout=2); s.sendall(b"*1\r\n$4\r\nPING\r\n"); print("alive:", s.recv(100))
