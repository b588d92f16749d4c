#!/usr/bin/env python3
"""Labelled leak / no-leak corpus built from mechanisms (see MECHANISMS.md).

Each series is produced the way a real service produces it: a request load drives a
process model (live objects, caches, pools, threads, leaks), a runtime turns live bytes
and an allocation rate into what a monitoring agent sees (Go pacer and scavenger, JVM
generations, V8 scavenge / mark-compact, glibc arenas), and a scraper samples it with
jitter, dropped scrapes and outages.

    python3 mechanisms.py --seed S --n N --out DIR [--quiet]

Standard library only.  Series i uses FAMILIES[i % len(FAMILIES)] and its own
random.Random seeded from (seed, i), so it does not depend on N.
"""

import argparse
import bisect
import hashlib
import math
import os
import random
import sys
import time
from collections import deque

KiB = 1024.0
MiB = KiB * KiB
PAGE = 4096
DAY = 86400.0
INF = float("inf")
MAX_ROWS = 86400
MIN_ROWS = 60
# `--days LO HI`: every run lasts LO-HI days (log-uniform) instead of its family's own range.
LENGTH_DAYS = None

# Scrape intervals as they are configured in practice (Prometheus 15 s / 30 s / 60 s, agents 1-10 s).
SCRAPES = (1, 1, 2, 5, 5, 5, 10, 10, 10, 15, 15, 15, 15, 30, 30, 60)
STD_IV = (1, 2, 5, 10, 15, 30, 60)
COLUMN = {"bytes": "rss_bytes", "fds": "fds", "sockets": "sockets", "threads": "threads"}


def lu(rng, a, b):
    """Log-uniform in [a, b]."""
    return math.exp(rng.uniform(math.log(a), math.log(b)))


def poisson(rng, lam):
    if lam <= 0.0:
        return 0
    if lam > 25.0:
        k = int(rng.gauss(lam, math.sqrt(lam)) + 0.5)
        return k if k > 0 else 0
    lim = math.exp(-lam)
    k = 0
    p = rng.random()
    while p > lim:
        k += 1
        p *= rng.random()
    return k


def median(xs):
    s = sorted(xs)
    m = len(s)
    return s[m // 2] if m % 2 else 0.5 * (s[m // 2 - 1] + s[m // 2])


# --------------------------------------------------------------------------------------
# Scrape grid
# --------------------------------------------------------------------------------------

class Grid:
    """The complete grid of scrape attempts (jittered); `keep` marks the ones that succeeded.

    The process is simulated at every attempt, so a dropped scrape or an outage is a hole
    in the output, never a zero and never a jump in the simulation."""

    def __init__(self, rng, lmin=300.0, lmax=DAY, ivs=SCRAPES, nmin=None, outages=True):
        if LENGTH_DAYS:
            lmin, lmax = LENGTH_DAYS[0] * DAY, LENGTH_DAYS[1] * DAY
        length = lu(rng, lmin, lmax)
        iv = rng.choice(ivs)
        if LENGTH_DAYS and length / iv >= MAX_ROWS:   # a coarser scrape, not a shorter run
            iv = next((x for x in STD_IV if length / x < MAX_ROWS), STD_IV[-1])
        nmin = nmin or rng.randint(100, 240)
        if length / iv < nmin:
            ok = [x for x in STD_IV if length / x >= nmin]
            iv = ok[-1] if ok else 1
            if length / iv < nmin:
                length = nmin * iv
        n = min(int(length / iv) + 1, MAX_ROWS)
        jit = rng.choice((0.0, 0.0, 0.01, 0.05, 0.1, 0.2))
        skew = 1.0 + rng.uniform(-1e-3, 1e-3)       # the scraper's clock is a little off
        t = [0.0] * n
        u = rng.uniform
        for k in range(1, n):
            t[k] = (k + u(-jit, jit)) * iv * skew
        keep = [True] * n
        pd = rng.choice((0.0, 0.0, 0.002, 0.005, 0.01, 0.02))
        if pd > 0:                                   # dropped scrapes, in short runs
            lq = math.log(1.0 - pd)
            k = 1 + int(math.log(1.0 - rng.random()) / lq)
            while k < n - 1:
                for j in range(k, min(n - 1, k + rng.choice((1, 1, 1, 2, 3)))):
                    keep[j] = False
                k += 2 + int(math.log(1.0 - rng.random()) / lq)
        if outages:                                  # 0-2 monitoring outages
            end = t[-1]
            for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
                d = rng.uniform(0.005, 0.04) * end
                s = rng.uniform(0.05, 0.9) * end
                for j in range(bisect.bisect_left(t, s), bisect.bisect_left(t, s + d)):
                    if 0 < j < n - 1:
                        keep[j] = False
        keep[0] = keep[-1] = True
        if sum(keep) < MIN_ROWS + 20:
            keep = [True] * n
        self.t, self.keep, self.iv, self.n = t, keep, iv, n
        self.end = t[-1]
        self.load = None
        self.cum = None

    def idx(self, ts):
        """First grid index at or after time ts."""
        return min(bisect.bisect_left(self.t, ts), self.n - 1)


# --------------------------------------------------------------------------------------
# Request load
# --------------------------------------------------------------------------------------

def make_load(rng, g, kinds, noise=True):
    """Relative request rate (about 1 on average) at every grid point; g.cum is the
    integral (requests served, in load-seconds)."""
    T, n, end = g.t, g.n, g.end
    L = [1.0] * n
    if "daily" in kinds:                             # day / night with a trough at night
        tr = rng.uniform(0.08, 0.45)
        p = rng.uniform(0.8, 2.2)
        h2 = rng.uniform(0.0, 0.15)
        ph = rng.uniform(0.0, DAY)
        tau = 2.0 * math.pi

        def f(x):
            c = 0.5 - 0.5 * math.cos(tau * x)
            return tr + (1.0 - tr) * (c ** p) * (1.0 + h2 * math.sin(2.0 * tau * x))
        mean = sum(f(k / 288.0) for k in range(288)) / 288.0
        for i in range(n):
            L[i] *= f(((T[i] - ph) / DAY) % 1.0) / mean
    if "ramp" in kinds or "rampdown" in kinds:       # a traffic shift
        t1 = rng.uniform(0.05, 0.55) * end
        d = rng.uniform(0.03, 0.7 - t1 / end) * end        # over by 70 % of the run
        b = lu(rng, 1.6, 4.0) if "ramp" in kinds else lu(rng, 0.3, 0.65)
        for i in range(n):
            x = T[i]
            if x > t1:
                L[i] *= b if x >= t1 + d else 1.0 + (b - 1.0) * (x - t1) / d
    if "steps" in kinds:                             # traffic moved by a load balancer change
        for _ in range(rng.randint(1, 3)):
            ts = rng.uniform(0.1, 0.9) * end
            fac = lu(rng, 0.5, 2.0)
            for i in range(g.idx(ts), n):
                L[i] *= fac
    if "bursts" in kinds:                            # bursts of traffic, retries, crawlers
        gap = lu(rng, 300.0, 7200.0)
        nb = max(1, poisson(rng, end / gap))
        for _ in range(nb):
            s = rng.uniform(0.0, end)
            d = lu(rng, 20.0, 1200.0)
            a = lu(rng, 0.3, 4.0)
            i = g.idx(s)
            stop = s + 2.0 * d
            while i < n and T[i] < stop:
                x = T[i] - s
                L[i] += a if x < d else a * math.exp(-(x - d) / (0.25 * d))
                i += 1
    if noise:                                        # slow random variation of traffic
        tau = lu(rng, 30.0, 900.0)
        sd = lu(rng, 0.02, 0.2)
        x = 0.0
        gauss = rng.gauss
        for i in range(1, n):
            a = math.exp(-(T[i] - T[i - 1]) / tau)
            x = a * x + sd * math.sqrt(1.0 - a * a) * gauss(0.0, 1.0)
            L[i] *= math.exp(x)
    cum = [0.0] * n
    for i in range(1, n):
        cum[i] = cum[i - 1] + 0.5 * (L[i - 1] + L[i]) * (T[i] - T[i - 1])
    g.load, g.cum = L, cum
    return L


def error_bursts(rng, g, t_on=0.0):
    """Error rate multiplier: a two-state Markov process (calm / incident). At least one
    incident after t_on, so error-path leaks come in bursts."""
    T, n = g.t, g.n
    off_mean = lu(rng, 600.0, 4 * 3600.0)
    on_mean = lu(rng, 60.0, 1200.0)
    ratio = lu(rng, 4.0, 60.0)
    e = [1.0] * n
    on = False
    had = 0
    for i in range(1, n):
        dt = T[i] - T[i - 1]
        if rng.random() < 1.0 - math.exp(-dt / (on_mean if on else off_mean)):
            on = not on
            if on and T[i] >= t_on:
                had += 1
        if on:
            e[i] = ratio
    span = g.end - t_on
    for k in range(had, 2):                    # at least two incidents after onset
        d = min(on_mean, 0.15 * span)
        s = t_on + rng.uniform(0.5 * k, 0.5 * k + 0.5) * (span - d)
        for i in range(g.idx(s), g.idx(s + d) + 1):
            e[i] = ratio
    return e


def cumulate(g, I, on_i):
    """Integral of intensity I from grid index on_i."""
    T = g.t
    C = [0.0] * g.n
    for i in range(on_i + 1, g.n):
        C[i] = C[i - 1] + 0.5 * (I[i - 1] + I[i]) * (T[i] - T[i - 1])
    return C


def events(rng, g, I, on_i, N, sizes=None):
    """N events placed with intensity I after on_i; returns, per grid point, the number
    (or total size) of events up to it."""
    C = cumulate(g, I, on_i)
    tot = C[-1]
    u = sorted(rng.random() * tot for _ in range(N))
    out = [0.0] * g.n
    j = 0
    acc = 0.0
    for i in range(on_i, g.n):
        c = C[i]
        while j < N and u[j] <= c:
            acc += sizes[j] if sizes else 1.0
            j += 1
        out[i] = acc
    return out


def window_max(T, x, W, resets=()):
    """Max of x over the last W seconds (a connection / thread used at s lives until s+W).
    `resets` are grid indices where the process restarted (the window starts afresh)."""
    n = len(x)
    out = [0] * n
    dq = deque()
    rs = set(resets)
    for i in range(n):
        if i in rs:
            dq.clear()
        xi = x[i]
        while dq and x[dq[-1]] <= xi:
            dq.pop()
        dq.append(i)
        lim = T[i] - W
        while T[dq[0]] < lim:
            dq.popleft()
        out[i] = x[dq[0]]
    return out


def wander(g, vals, keep, on_i, parts=8):
    """Range of the medians of `parts` equal stretches of the healthy series after on_i: how
    far load, warm-ups and steps move it on the time scale of the run (a GC sawtooth much
    shorter than a stretch hardly counts)."""
    T = g.t
    t0 = T[on_i]
    span = (g.end - t0) / parts
    meds = []
    for k in range(parts):
        lo, hi = g.idx(t0 + k * span), g.idx(t0 + (k + 1) * span)
        xs = [vals[i] for i in range(lo, max(hi, lo + 1)) if keep[i]]
        if xs:
            meds.append(median(xs))
    return max(meds) - min(meds) if meds else 0.0


def leak_frac(rng, hard=0.7, hi=1.5):
    """Growth of a leak over its window, as a fraction of base: about a third are hard (< 10 %)."""
    if rng.random() < hard:
        return rng.uniform(0.045, 0.10)
    return lu(rng, 0.10, hi)


def mem_target(rng):
    return lu(rng, 40 * 1e6, 4.5 * 1e9)


# --------------------------------------------------------------------------------------
# Runtimes: live bytes + allocation rate -> what the agent observes
# --------------------------------------------------------------------------------------

class GoRT:
    """Go GC pacer: goal = marked * (1 + GOGC/100) (min 4 MiB), optionally capped by
    GOMEMLIMIT; a cycle when the heap reaches the goal, a forced cycle every 2 min (not
    with GOGC=off).  RSS follows the heap up at once and comes down only as the background
    scavenger returns pages (minutes), keeping about the goal (+0-10 %)."""

    name = "go"

    def __init__(self, rng, T, B, obs=None, gogc=None, limit_frac=None, period=(0.5, 120.0)):
        self.seed0 = rng.getrandbits(64)
        self.rng = random.Random(self.seed0)
        self.gogc = gogc if gogc is not None else rng.choice((50, 75, 100, 100, 100, 150, 200))
        self.g = None if self.gogc == "off" else self.gogc / 100.0
        self.rss_obs = (obs == "rss") if obs else rng.random() < 0.65
        self.nonheap = min(lu(rng, 6 * MiB, 40 * MiB), 0.2 * B)
        heap = B - self.nonheap
        gg = self.g if self.g is not None else 1.0
        self.live = heap / (1.0 + gg * (0.95 if self.rss_obs else 0.5))
        self.limit = None
        if limit_frac is not None:
            self.limit = heap * limit_frac
        P = lu(rng, *period)
        self.A0 = self.live * gg / P
        self.force = INF if self.g is None else 120.0
        self.tau = lu(rng, 60.0, 900.0)
        self.retain = rng.uniform(1.0, 1.1)
        if self.limit is not None:
            self.retain = 1.0                      # near the limit the scavenger keeps no extra

    def goal(self, Lm):
        gl = Lm * (1.0 + self.g) if self.g is not None else INF
        if gl < Lm + 4 * MiB:
            gl = Lm + 4 * MiB
        if self.limit is not None and gl > self.limit:
            gl = max(self.limit, Lm * 1.05 + MiB)      # under the limit: GC more often
        return gl

    def reset(self, L, running=False):
        """A fresh process, or (running) one already in its steady state at a random phase."""
        self.H = L
        self.pL = L
        self.gl = self.goal(L)
        self.since = 0.0
        self.rss = L
        if running:
            u = self.rng.random()
            self.H = L + u * (self.gl - L) if self.gl < 1e300 else L
            self.rss = max(self.H, self.gl * self.retain if self.gl < 1e300 else self.H)
            self.since = u * min(self.force, 60.0)

    def step(self, dt, L, A, age):
        H = self.H
        if L > self.pL:
            H += L - self.pL
        self.pL = L
        if H < L:
            H = L
        gl = self.gl
        since = self.since
        t_goal = (gl - H) / A if A > 0 else INF
        if t_goal < 0.0:
            t_goal = 0.0
        t1 = self.force - since
        if t_goal < t1:
            t1 = t_goal
        if t1 >= dt:
            H += A * dt
            since += dt
            peak = H
        else:
            if t1 < 0.0:
                t1 = 0.0
            peak = H + A * t1
            gl = self.goal(L)
            P = (gl - L) / A if A > 0 else self.force
            if P > self.force:
                P = self.force
            if P <= 0.0:
                P = 1.0
            rem = dt - t1
            if rem >= P:
                top = L + A * P
                if top > peak:
                    peak = top
                rem = math.fmod(rem, P)
            H = L + A * rem
            since = rem
            self.gl = gl
        self.H = H
        self.since = since
        r = self.rss
        if peak > r:
            r = peak
        else:
            tgt = self.retain * gl
            if tgt > 1e300:
                tgt = H
            if H > tgt:
                tgt = H
            if r > tgt:
                r = tgt + (r - tgt) * math.exp(-dt / self.tau)
        self.rss = r
        return self.nonheap + (r if self.rss_obs else H)


class JvmRT:
    """JVM generations: eden filled at the allocation rate, a young collection whenever it
    is full (seconds); a fraction of each young collection is promoted to the old
    generation, which is collected only when its occupancy reaches a threshold (IHOP /
    CMSInitiatingOccupancy, 45-85 %), minutes to hours apart.  'heap' observes heap used;
    'rss' observes touched heap (grows with the high-water mark, given back only with
    periodic uncommit) + metaspace and code-cache warm-up + thread stacks."""

    name = "jvm"

    def __init__(self, rng, T, B, obs=None, Tmaj=None, reserve=0.0):
        self.seed0 = rng.getrandbits(64)
        self.rng = random.Random(self.seed0)
        self.rss_obs = (obs == "rss") if obs else rng.random() < 0.4
        if self.rss_obs:
            self.meta = min(lu(rng, 40 * MiB, 250 * MiB), 0.15 * B)
            self.code = min(lu(rng, 10 * MiB, 120 * MiB), 0.06 * B)
            self.nat = min(lu(rng, 15 * MiB, 150 * MiB), 0.1 * B)
        else:
            self.meta = self.code = self.nat = 0.0
        self.tm = min(lu(rng, 20.0, 600.0), 0.1 * T)
        self.tc = min(lu(rng, 60.0, 3600.0), 0.15 * T)
        heap = B - self.meta - self.code - self.nat
        th = rng.uniform(0.45, 0.85)
        occ = rng.uniform(0.15, th - 0.15)
        e = lu(rng, 0.03, 0.25)
        if self.rss_obs:
            O = heap / (1.25 * e + th)
        else:
            O = heap / (0.5 * (occ + th + e))
        if reserve > 0 and (th - occ) * O < 1.3 * reserve * B:
            occ = max(0.05, th - 1.3 * reserve * B / O)
        self.O = O
        self.live = occ * O
        self.thr = th * O
        self.E = e * O
        self.Y = 1.25 * self.E
        self.Xmx = self.O + self.Y
        self.region = max(MiB, min(32 * MiB, 2 ** round(math.log2(max(self.Xmx / 2048.0, 1.0)))))
        Tm = Tmaj if Tmaj is not None else min(lu(rng, 600.0, 6 * 3600.0), lu(rng, 0.03, 0.4) * T)
        s = lu(rng, 0.003, 0.06)
        A = (self.thr - self.live) / (s * Tm)
        yp = self.E / A
        if yp < 0.3:
            A = self.E / 0.3
        elif yp > 60.0:
            A = self.E / 60.0
        self.s = min(0.6, (self.thr - self.live) / (A * Tm))
        self.A0 = A
        self.uncommit = rng.random() < 0.25
        self.free = rng.uniform(1.2, 1.6)

    def reset(self, L, running=False):
        self.e = 0.0
        self.old = L
        self.pL = L
        self.touched = min(self.Xmx, self.Y + L)
        self.majors = 0
        if running:
            self.e = self.rng.random() * self.E
            self.old = L + self.rng.random() * max(0.0, self.thr - L)
            self.touched = min(self.Xmx, self.Y + max(self.thr, L))

    def step(self, dt, L, A, age):
        add = L - self.pL if L > self.pL else 0.0
        self.pL = L
        x = self.e + A * dt
        E = self.E
        ny = int(x // E)
        self.e = x - ny * E
        old = self.old + ny * E * self.s + add
        if old < L:
            old = L
        peak = old
        thr = self.thr
        major = False
        if old >= thr:
            room = thr - L
            old = L + math.fmod(old - thr, room) if room > 0.01 * E else L
            major = True
            self.majors += 1
        self.old = old
        if self.rss_obs:
            need = self.Y + peak
            if need > self.touched:
                rg = self.region
                self.touched = min(self.Xmx, math.ceil(need / rg) * rg)
            if major and self.uncommit and self.rng.random() < 0.5:
                self.touched = max(self.Y + L, min(self.touched, (self.Y + L) * self.free))
            return (self.touched + self.meta * (1.0 - math.exp(-age / self.tm))
                    + self.code * (1.0 - math.exp(-age / self.tc)) + self.nat)
        return self.e + 0.08 * E + old


class NodeRT:
    """V8: a new space scavenged whenever it fills (sub-second to seconds); a fraction of
    each scavenge is promoted to old space; a mark-compact when old space reaches
    limit = max(min, live_after_last_MC * growing factor).  RSS keeps old-space pages
    until the memory reducer releases them (seconds to minutes)."""

    name = "node"

    def __init__(self, rng, T, B, obs=None):
        self.seed0 = rng.getrandbits(64)
        self.rng = random.Random(self.seed0)
        self.rss_obs = (obs == "rss") if obs else rng.random() < 0.7
        self.base = min(lu(rng, 25 * MiB, 60 * MiB), 0.3 * B)
        self.S = min(lu(rng, 1 * MiB, 16 * MiB), 0.05 * B)
        self.factor = rng.uniform(1.3, 2.5)
        heap = B - self.base - 3 * self.S
        self.live = heap / (1.0 + (self.factor - 1.0) * 0.6)
        self.A0 = self.S / lu(rng, 0.05, 5.0)
        tmc = min(lu(rng, 30.0, 1800.0), 0.1 * T)      # mark-compact every tmc at load 1
        self.p = self.live * (self.factor - 1.0) / (self.A0 * tmc)
        if self.p > 0.3:
            self.A0 *= self.p / 0.3
            self.p = 0.3
        self.minlim = min(lu(rng, 8 * MiB, 64 * MiB), 0.5 * self.live)
        self.tau = lu(rng, 10.0, 300.0)
        self.code = min(lu(rng, 2 * MiB, 30 * MiB), 0.05 * B)
        self.tc = lu(rng, 30.0, 900.0)

    def reset(self, L, running=False):
        self.n = 0.0
        self.old = L
        self.pL = L
        self.lim = max(self.minlim, L * self.factor)
        self.oc = L
        if running:
            self.n = self.rng.random() * self.S
            self.old = L + self.rng.random() * (self.lim - L)
            self.oc = self.lim

    def step(self, dt, L, A, age):
        old = self.old
        if L > self.pL:
            old += L - self.pL
        self.pL = L
        S = self.S
        x = self.n + A * dt
        k = int(x // S)
        self.n = x - k * S
        old += k * S * self.p
        if old < L:
            old = L
        peak = old
        if old >= self.lim:
            over = old - self.lim
            self.lim = max(self.minlim, L * self.factor)
            room = self.lim - L
            old = L + (math.fmod(over, room) if room > 0 else 0.0)
        self.old = old
        if self.rss_obs:
            oc = self.oc
            if peak > oc:
                oc = peak
            else:
                tgt = old if old > 0.8 * self.lim else 0.8 * self.lim
                if oc > tgt:
                    oc = tgt + (oc - tgt) * math.exp(-dt / self.tau)
            self.oc = oc
            return self.base + 2.0 * S + oc + self.code * (1.0 - math.exp(-age / self.tc))
        return self.base * 0.2 + self.n + old


class NativeRT:
    """glibc malloc (or jemalloc/tcmalloc): RSS = high-water of live * (1 + fragmentation);
    fragmentation grows with churn to a plateau; glibc gives memory back only on an
    occasional trim (malloc_trim / top-of-heap), jemalloc-like allocators decay dirty pages
    over seconds to minutes.  No sawtooth."""

    name = "native"

    def __init__(self, rng, T, B, glibc=None):
        self.seed0 = rng.getrandbits(64)
        self.rng = random.Random(self.seed0)
        self.libs = min(lu(rng, 5 * MiB, 60 * MiB), 0.2 * B)
        self.fmax = rng.uniform(0.05, 0.45)
        self.ftau = min(lu(rng, 300.0, 7200.0), 0.15 * T)
        self.glibc = (rng.random() < 0.7) if glibc is None else glibc
        self.trate = 1.0 / lu(rng, 300.0, 4 * 3600.0)
        self.keep = rng.uniform(0.0, 0.6)
        self.decay = lu(rng, 10.0, 300.0)
        self.live = (B - self.libs) / (1.0 + 0.8 * self.fmax)
        self.A0 = 0.0

    def reset(self, L, running=False):
        self.h = L

    def step(self, dt, L, A, age):
        need = L * (1.0 + self.fmax * (1.0 - math.exp(-age / self.ftau)))
        h = self.h
        if need >= h:
            h = need
        elif self.glibc:
            if self.rng.random() < dt * self.trate:
                h = need + (h - need) * self.keep
        else:
            h = need + (h - need) * math.exp(-dt / self.decay)
        self.h = h
        return self.libs + h


def any_rt(rng, T, B, kinds=("go", "jvm", "node", "native"), **kw):
    k = rng.choice(kinds)
    if k == "go":
        return GoRT(rng, T, B)
    if k == "jvm":
        return JvmRT(rng, T, B, obs="heap" if kw.get("leak") else None, reserve=kw.get("reserve", 0.0))
    if k == "node":
        return NodeRT(rng, T, B)
    return NativeRT(rng, T, B)


# --------------------------------------------------------------------------------------
# Memory process model and its simulation
# --------------------------------------------------------------------------------------

class Mem:
    """Live set of a service, by component."""

    def __init__(self, g, rt):
        self.g = g
        self.rt = rt
        self.base_live = rt.live
        self.static = None        # live bytes as a function of absolute time (list)
        self.nh = None            # bytes outside the GC'd heap (stacks, Buffers, arenas)
        self.warm = []            # (bytes, tau): warm-up after each (re)start
        self.cache = None         # (bytes, R_fill, k): bounded cache filled by requests
        self.ttl = None           # (bytes per load-second, ttl): TTL cache
        self.A = [rt.A0 * x for x in g.load]
        self.restarts = []        # (t_down, t_up)
        self.leak = None          # (cumulative driver, onset index)
        self.leak_scale = 0.0
        self.leak_nonheap = False
        self.oom = None           # (limit, (down_lo, down_hi))
        self.age0 = 0.0           # process age at t = 0 (0: the window starts with the process)

    def simulate(self, leak_on):
        g, rt = self.g, self.rt
        T, n, cum = g.t, g.n, g.cum
        vals = [0.0] * n
        lp = [0.0] * n
        keep = list(g.keep)
        static, nh, A = self.static, self.nh, self.A
        cache, ttl = self.cache, self.ttl
        warm = [(a, min(tau, 0.22 * g.end)) for a, tau in self.warm]   # levels off inside the run
        base_live = self.base_live
        rs = self.restarts
        ri = 0
        LC = None
        on_i = n
        scale = 0.0
        if leak_on and self.leak is not None:
            LC, on_i = self.leak
            scale = self.leak_scale
        nonheap_leak = self.leak_nonheap
        oom = self.oom if leak_on else None
        rt.rng.seed(rt.seed0)                 # the same runtime events in both runs
        epoch_t = -self.age0
        epoch_R = -self.age0                   # requests before the window, at load 1
        lstart = on_i
        prev = 0.0
        down = None
        jt = 0
        restarts_done = []
        rt.reset(base_live + (static[0] if static else 0.0), self.age0 > 0)
        if cache:
            cb, cR, ck = cache
            cnorm = 1.0 - math.exp(-ck)
        if ttl:
            tb, tT = ttl
        for i in range(n):
            t = T[i]
            while ri < len(rs) and t >= rs[ri][0]:
                down = rs[ri][1] if down is None else max(down, rs[ri][1])
                ri += 1
            if down is not None:
                if t < down:
                    keep[i] = False
                    continue
                epoch_t = down
                epoch_R = cum[i]
                prev = down
                lstart = i if i > on_i else on_i
                restarts_done.append(i)
                rt.reset(base_live + (static[i] if static else 0.0))
                down = None
            age = t - epoch_t
            dt = t - prev
            prev = t
            L = base_live
            if static:
                L += static[i]
            for a, tau in warm:
                L += a * (1.0 - math.exp(-age / tau))
            if cache:
                x = (cum[i] - epoch_R) / cR
                L += cb if x >= 1.0 else cb * (1.0 - math.exp(-ck * x)) / cnorm
            if ttl:
                lo = t - tT
                if lo > 0.0:
                    while jt + 1 < n and T[jt + 1] <= lo:
                        jt += 1
                    c0 = cum[jt] + (cum[jt + 1] - cum[jt]) * (lo - T[jt]) / (T[jt + 1] - T[jt])
                else:
                    c0 = lo                    # load 1 before the window
                if c0 < epoch_R:
                    c0 = epoch_R
                L += tb * (cum[i] - c0)
            lk = 0.0
            if i >= lstart:
                lk = scale * (LC[i] - LC[lstart])
                lp[i] = lk
                if not nonheap_leak:
                    L += lk
            v = rt.step(dt, L, A[i], age)
            if nh:
                v += nh[i]
            if nonheap_leak:
                v += lk
            if oom is not None and v >= oom[0]:
                v = oom[0] * rt_rng_uniform(rt, 0.97, 1.0)
                down = t + rt_rng_uniform(rt, 0.1, 1.0) * g.iv + rt_rng_uniform(rt, *oom[1])
            vals[i] = v
        return vals, lp, keep, restarts_done


def rt_rng_uniform(rt, a, b):
    return rt.rng.uniform(a, b)


def mem_noise(rng, vals, keep, base, level=None):
    """White + AR(1) noise and occasional short spikes (mostly up), scaled to base."""
    lv = level or rng.choice(("low", "low", "normal", "normal", "heavy"))
    r = {"low": (2e-4, 1e-3), "normal": (1e-3, 4e-3), "heavy": (4e-3, 1.5e-2)}[lv]
    w = base * lu(rng, *r)
    ar = base * 2.0 * lu(rng, *r)
    phi = rng.uniform(0.9, 0.995)
    inn = ar * math.sqrt(1.0 - phi * phi)
    ps = lu(rng, 3e-4, 5e-3)
    x = 0.0
    left = 0
    amp = 0.0
    gauss = rng.gauss
    rnd = rng.random
    floor = 0.2 * base
    for i in range(len(vals)):
        x = phi * x + gauss(0.0, inn)
        if not keep[i]:
            continue
        v = vals[i] + x + gauss(0.0, w)
        if left > 0:
            v += amp
            left -= 1
        elif rnd() < ps:
            amp = base * lu(rng, 0.01, 0.3) * (1.0 if rnd() < 0.85 else -0.3)
            left = rng.choice((0, 0, 1, 2))
            v += amp
        vals[i] = v if v > floor else floor


class Series:
    __slots__ = ("family", "cls", "unit", "leak", "onset", "base", "iv", "t", "v", "lp", "restarts",
                 "req")


# Requests per second at a relative load of 1, for the `requests_total` column (`--requests`):
# the counter a load driver keeps, which a restart of the service does not reset. A fixed
# figure, so that writing the column draws nothing from the series' random streams.
REQ_PER_S = 50.0


def finish(family, cls, unit, g, vals, keep, base, leak, onset, lp, restarts=0):
    s = Series()
    s.family, s.cls, s.unit, s.leak = family, cls, unit, leak
    s.onset, s.base, s.iv = onset, base, g.iv
    idx = [i for i in range(g.n) if keep[i]]
    s.t = [g.t[i] for i in idx]
    if cls == "memory":
        s.v = [max(PAGE, int(vals[i] / PAGE + 0.5) * PAGE) for i in idx]
    else:
        s.v = [max(0, int(round(vals[i]))) for i in idx]
    s.lp = [lp[i] for i in idx] if lp else [0.0] * len(idx)
    s.restarts = restarts
    s.req = [int(g.cum[i] * REQ_PER_S) for i in idx] if g.cum is not None else None
    return s


def run_mem(family, rng, m, leak=False, f=None, on_i=0, onset=None, oom=None, noise=None):
    """Simulate the healthy process (its median is `base`), then, for a leak, scale the
    leak driver to f * base over its window (or to reach the container limit) and
    simulate again with the leak."""
    g = m.g
    vals, lp, keep, rdone = m.simulate(False)
    base = median([vals[i] for i in range(g.n) if keep[i]])
    if leak:
        LC = m.leak[0]
        span = LC[-1] - LC[on_i]
        if oom is not None:
            lim_f, cycles = oom
            limit = base * lim_f
            m.oom = (limit, (5.0, 90.0))
            m.leak_scale = (limit - base) * cycles / span
        else:
            f = max(f, 0.5 * wander(g, vals, keep, on_i) / base)   # not lost in the healthy wander
            m.leak_scale = f * base / span
        vals, lp, keep, rdone = m.simulate(True)
    mem_noise(rng, vals, keep, base, noise)
    return finish(family, "memory", "bytes", g, vals, keep, base, leak,
                  (onset if onset is not None else 0.0) if leak else None, lp if leak else None,
                  len(rdone))


def mid_life(rng, m, p_start=0.3):
    """Most monitoring windows open on a process that has been running for a while."""
    if rng.random() >= p_start:
        m.age0 = lu(rng, 600.0, 30 * DAY)
    return m


def split(rng, total, k):
    w = [rng.random() + 0.2 for _ in range(k)]
    s = sum(w)
    return [total * x / s for x in w]


def plan_restarts(rng, g, k, lo=0.15, hi=0.85):
    out = []
    for ts in sorted(rng.uniform(lo, hi) * g.end for _ in range(k)):
        out.append((ts, ts + lu(rng, 5.0, 60.0)))
    return out


def stacks(rng, g, per=None, base_n=None, k=None):
    """Goroutine / thread stacks: a fixed set plus some per in-flight request."""
    per = per or lu(rng, 8 * KiB, 64 * KiB)
    base_n = base_n if base_n is not None else lu(rng, 10, 200)
    k = k if k is not None else lu(rng, 2, 200)
    return [per * (base_n + k * x) for x in g.load]


def long_kinds(rng, g, extra=()):
    ks = list(extra)
    if g.end > 8 * 3600 and rng.random() < 0.5:
        ks.append("daily")
    return ks


# --------------------------------------------------------------------------------------
# Memory families: healthy
# --------------------------------------------------------------------------------------

def go_healthy_bursty(rng):
    """Go service under bursty load: per-request garbage drives the pacer, in-flight objects follow load."""
    g = Grid(rng)
    make_load(rng, g, long_kinds(rng, g, ["bursts"]))
    rt = GoRT(rng, g.end, mem_target(rng))
    m = mid_life(rng, Mem(g, rt))
    live = rt.live
    infl = live * rng.uniform(0.05, 0.3)
    w = live * rng.uniform(0.0, 0.2)
    m.base_live = live - infl - w
    m.static = [infl * x for x in g.load]
    m.warm = [(w, lu(rng, 10.0, 300.0))]
    m.nh = stacks(rng, g)
    return run_mem("go_healthy_bursty", rng, m)


def go_healthy_memlimit(rng):
    """GOMEMLIMIT: with GOGC=off the heap grows to the limit (minutes-hours), is collected, grows again;
    with GOGC on, a load ramp pushes the goal into the cap. RSS rises to about the limit and stays."""
    g = Grid(rng, lmin=1200.0)
    B = mem_target(rng)
    end = g.end
    if rng.random() < 0.6:
        make_load(rng, g, ["steps"] if rng.random() < 0.3 else [])
        rt = GoRT(rng, g.end, B, obs=None, gogc="off", limit_frac=1.0)
        live = rt.limit * rng.uniform(0.2, 0.6)
        rt.live = live
        t_fill = rng.uniform(0.15, 0.6) * end
        rt.A0 = (rt.limit - live) / t_fill
        m = Mem(g, rt)
        m.base_live = live
    else:
        make_load(rng, g, ["ramp"])
        rt = GoRT(rng, g.end, B, gogc=rng.choice((100, 150, 200)), limit_frac=1.0)
        peak = max(g.load)
        live = rt.limit / (1.0 + rt.g) * rng.uniform(0.9, 1.4) / (0.5 + 0.5 * peak)
        rt.live = live
        m = Mem(g, rt)
        m.base_live = live * 0.5
        m.static = [0.5 * live * x for x in g.load]
    m.A = [rt.A0 * x for x in g.load]
    m.nh = stacks(rng, g)
    return run_mem("go_healthy_memlimit", rng, m)


def go_healthy_warmup_slow(rng):
    """Go service warming up slowly: lazily built indexes, interned strings, sync.Pool and
    connection buffers, a fast and a slow stage that both level off inside the run."""
    g = Grid(rng, lmin=900.0)
    make_load(rng, g, rng.choice(([], ["bursts"], ["steps"])))
    rt = GoRT(rng, g.end, mem_target(rng))
    m = Mem(g, rt)
    live = rt.live
    a1 = live * rng.uniform(0.05, 0.3)
    a2 = live * rng.uniform(0.15, 0.6)
    m.base_live = live - a1 - a2
    m.warm = [(a1, lu(rng, 20.0, 300.0)), (a2, rng.uniform(0.05, 0.22) * g.end)]
    m.nh = stacks(rng, g)
    return run_mem("go_healthy_warmup_slow", rng, m)


def jvm_healthy_oldgen_fill(rng):
    """JVM old generation filling with promoted garbage: the first major collection comes
    only at 25-70 % of the run (then every so often), heap used (or touched heap) climbs until then."""
    g = Grid(rng, lmin=900.0)
    make_load(rng, g, rng.choice(([], ["bursts"])))
    rt = JvmRT(rng, g.end, mem_target(rng), obs="heap" if rng.random() < 0.75 else "rss",
               Tmaj=rng.uniform(0.25, 0.7) * g.end)
    m = Mem(g, rt)
    w = rt.live * rng.uniform(0.0, 0.15)
    m.base_live = rt.live - w
    m.warm = [(w, lu(rng, 10.0, 300.0))]
    return run_mem("jvm_healthy_oldgen_fill", rng, m, noise="low")


def jvm_healthy_committed(rng):
    """JVM RSS: touched heap grows by regions to the old-gen peak, metaspace and code cache
    warm up (classes, JIT), thread stacks; rarely given back (G1 periodic uncommit)."""
    g = Grid(rng)
    make_load(rng, g, long_kinds(rng, g, rng.choice(([], ["bursts"], ["steps"]))))
    rt = JvmRT(rng, g.end, mem_target(rng), obs="rss", Tmaj=lu(rng, 0.05, 0.5) * g.end)
    m = Mem(g, rt)
    m.nh = stacks(rng, g, per=lu(rng, 64 * KiB, 512 * KiB), base_n=lu(rng, 20, 200), k=rng.uniform(0.0, 50.0))
    return run_mem("jvm_healthy_committed", rng, m)


def node_healthy_external(rng):
    """Node.js: frequent scavenges, mark-compacts as old space grows by the heap growing
    factor, external Buffers that follow the load (in-flight bodies, sockets)."""
    g = Grid(rng)
    make_load(rng, g, long_kinds(rng, g, ["bursts"]))
    B = mem_target(rng)
    rt = NodeRT(rng, g.end, B)
    m = mid_life(rng, Mem(g, rt))
    ext = B * rng.uniform(0.03, 0.25)
    m.base_live = rt.live * (1.0 - ext / B)
    m.warm = [(rt.live * rng.uniform(0.0, 0.15), lu(rng, 10.0, 300.0))]
    m.nh = [ext * x for x in g.load]
    return run_mem("node_healthy_external", rng, m)


def native_healthy_arenas(rng):
    """C/C++/Rust on glibc: worker threads added under load each get an arena that keeps
    its high-water mark, fragmentation grows to a plateau, an occasional trim gives some back."""
    g = Grid(rng)
    make_load(rng, g, rng.choice((["steps"], ["bursts"], ["ramp"], [])))
    rt = NativeRT(rng, g.end, mem_target(rng))
    m = Mem(g, rt)
    live = rt.live
    infl = live * rng.uniform(0.05, 0.3)
    m.base_live = live - infl
    m.static = [infl * x for x in g.load]
    m.warm = [(live * rng.uniform(0.0, 0.2), lu(rng, 10.0, 600.0))]
    cores = rng.choice((2, 4, 8, 16))
    per_arena = live * lu(rng, 0.002, 0.03)
    t0, tk = lu(rng, 2, 16), lu(rng, 2, 40)
    hw = 0.0
    nh = []
    for x in g.load:
        th = min(8 * cores, t0 + tk * x)
        if th > hw:
            hw = th
        nh.append(per_arena * hw)
    m.nh = nh
    return run_mem("native_healthy_arenas", rng, m)


def cache_lru_fill(rng):
    """An LRU / size-bounded cache filled by requests' keys: grows while it fills (linear
    for a large key space, exponential-ish for a small one), then holds at its max size."""
    g = Grid(rng, lmin=600.0)
    make_load(rng, g, long_kinds(rng, g, rng.choice(([], ["bursts"], ["steps"]))))
    rt = any_rt(rng, g.end, mem_target(rng))
    m = Mem(g, rt)
    cb = rt.live * rng.uniform(0.2, 0.6)
    m.base_live = rt.live - cb
    tf = rng.uniform(0.1, 0.7) * g.end
    m.cache = (cb, max(g.cum[g.idx(tf)], 1.0), lu(rng, 0.01, 4.0))
    m.warm = [(rt.live * rng.uniform(0.0, 0.1), lu(rng, 10.0, 200.0))]
    return run_mem("cache_lru_fill", rng, m)


def cache_ttl_follows_load(rng):
    """A TTL cache: entries live TTL seconds, so its size is requests over the last TTL;
    it follows ramps, steps and bursts of load and refills after a quiet period."""
    g = Grid(rng, lmin=600.0)
    make_load(rng, g, long_kinds(rng, g, [rng.choice(("ramp", "rampdown", "steps", "bursts"))]))
    rt = any_rt(rng, g.end, mem_target(rng), kinds=("go", "jvm", "node"))
    m = mid_life(rng, Mem(g, rt))
    ttl = min(lu(rng, 60.0, 3600.0), 0.3 * g.end)
    cb = rt.live * rng.uniform(0.15, 0.5)
    m.base_live = rt.live - cb
    m.ttl = (cb / ttl, ttl)
    return run_mem("cache_ttl_follows_load", rng, m)


def svc_healthy_daily(rng):
    """A day of traffic: in-flight memory, session / TTL caches and pools follow a daily
    cycle with a night trough."""
    g = Grid(rng, lmin=12 * 3600.0, ivs=(5, 10, 10, 15, 15, 30, 30, 60))
    make_load(rng, g, ["daily"] + (["bursts"] if rng.random() < 0.4 else []))
    rt = any_rt(rng, g.end, mem_target(rng))
    m = mid_life(rng, Mem(g, rt))
    live = rt.live
    infl = live * rng.uniform(0.05, 0.3)
    ttl = lu(rng, 300.0, 4 * 3600.0)
    cb = live * rng.uniform(0.05, 0.35)
    m.base_live = live - infl - cb
    m.static = [infl * x for x in g.load]
    m.ttl = (cb / ttl, ttl)
    return run_mem("svc_healthy_daily", rng, m)


def svc_healthy_ramp(rng):
    """A traffic shift (more load routed here, or away): in-flight objects, buffers and
    per-connection state scale to the new load and stay there."""
    g = Grid(rng, lmin=600.0)
    make_load(rng, g, ["ramp" if rng.random() < 0.8 else "rampdown"])
    rt = any_rt(rng, g.end, mem_target(rng))
    m = mid_life(rng, Mem(g, rt))
    pl = rt.live * rng.uniform(0.1, 0.4) / max(1.0, 0.5 * max(g.load))
    m.base_live = rt.live - pl
    m.static = [pl * x for x in g.load]
    ttl = lu(rng, 60.0, 1800.0)
    if rng.random() < 0.5:
        cb = rt.live * rng.uniform(0.05, 0.2)
        m.base_live -= cb
        m.ttl = (cb / ttl, ttl)
    return run_mem("svc_healthy_ramp", rng, m)


def svc_healthy_steps(rng):
    """One to three one-off steps: a lazily loaded module or dataset, a config reload that
    enlarges a buffer or cache, a new tenant; flat before and after each."""
    g = Grid(rng, lmin=600.0)
    make_load(rng, g, [])
    rt = any_rt(rng, g.end, mem_target(rng), kinds=("go", "jvm", "native", "native"))
    m = mid_life(rng, Mem(g, rt))
    k = rng.randint(1, 3)
    tot = rt.live * rng.uniform(0.06, 0.5)
    st = [0.0] * g.n
    for a in split(rng, tot, k):
        ts = rng.uniform(0.1, 0.85) * g.end
        rise = lu(rng, 1.0, 120.0)
        for i in range(g.idx(ts), g.n):
            x = (g.t[i] - ts) / rise
            st[i] += a if x >= 1.0 else a * max(0.0, x)
    m.base_live = rt.live - tot * 0.5
    m.static = st
    return run_mem("svc_healthy_steps", rng, m)


def svc_healthy_restart(rng):
    """Deploys / restarts mid-run: memory drops to the startup level and warms up again
    (JIT, caches refilled by requests); a short hole while the process is down."""
    g = Grid(rng, lmin=1200.0)
    make_load(rng, g, long_kinds(rng, g, rng.choice(([], ["bursts"]))))
    rt = any_rt(rng, g.end, mem_target(rng))
    m = mid_life(rng, Mem(g, rt))
    w = rt.live * rng.uniform(0.1, 0.4)
    cb = rt.live * rng.uniform(0.0, 0.3)
    m.base_live = rt.live - w - cb
    m.warm = [(w, lu(rng, 20.0, 0.05 * g.end))]
    if cb > 0:
        m.cache = (cb, max(g.cum[g.idx(rng.uniform(0.03, 0.15) * g.end)], 1.0), lu(rng, 0.01, 4.0))
    m.restarts = plan_restarts(rng, g, rng.choice((1, 1, 2)), 0.15, 0.7)
    return run_mem("svc_healthy_restart", rng, m)


def svc_healthy_batch_drift(rng):
    """Batch jobs (cron, reports, compactions) allocate a working set then release it;
    optionally a slow downward drift as traffic fades and caches shrink."""
    g = Grid(rng, lmin=900.0)
    make_load(rng, g, [])
    rt = any_rt(rng, g.end, mem_target(rng), kinds=("go", "jvm", "node", "go", "native"))
    m = mid_life(rng, Mem(g, rt))
    live = rt.live
    st = [0.0] * g.n
    period = lu(rng, 300.0, 7200.0) if rng.random() < 0.6 else None
    nb = max(2, int(g.end / period)) if period else max(2, poisson(rng, g.end / lu(rng, 600.0, 7200.0)))
    t0 = rng.uniform(0.0, period) if period else 0.0
    for j in range(min(nb, 400)):
        ts = t0 + j * period if period else rng.uniform(0.0, g.end)
        if ts > g.end:
            break
        a = live * lu(rng, 0.05, 0.8)
        up = lu(rng, 10.0, 600.0)
        hold = lu(rng, 10.0, 1200.0)
        rel = lu(rng, 1.0, 120.0)
        i = g.idx(ts)
        while i < g.n and g.t[i] < ts + up + hold + rel:
            x = g.t[i] - ts
            st[i] += a * (x / up if x < up else 1.0 if x < up + hold else 1.0 - (x - up - hold) / rel)
            i += 1
    if rng.random() < 0.6:
        d = live * rng.uniform(0.02, 0.15)
        for i in range(g.n):
            st[i] -= d * g.t[i] / g.end
    m.static = st
    m.base_live = live * 0.9
    return run_mem("svc_healthy_batch_drift", rng, m)


# --------------------------------------------------------------------------------------
# Memory families: leaks
# --------------------------------------------------------------------------------------

def mid_onset(rng, g, p, lo=0.1, hi=0.6):
    if rng.random() < p:
        t_on = rng.uniform(lo, hi) * g.end
        return t_on, g.idx(t_on)
    return 0.0, 0


def go_leak_map_per_request(rng):
    """Go: a map keeps one entry per request (request ids, per-user stats never pruned), so
    leaked bytes follow requests served: faster in bursts and by day."""
    g = Grid(rng, lmin=600.0)
    make_load(rng, g, long_kinds(rng, g, [rng.choice(("bursts", "steps", "bursts"))]))
    rt = GoRT(rng, g.end, mem_target(rng))
    m = mid_life(rng, Mem(g, rt))
    infl = rt.live * rng.uniform(0.05, 0.25)
    m.base_live = rt.live - infl
    m.static = [infl * x for x in g.load]
    m.warm = [(rt.live * rng.uniform(0.0, 0.15), lu(rng, 10.0, 300.0))]
    m.nh = stacks(rng, g)
    t_on, on_i = mid_onset(rng, g, 0.25)
    m.leak = (cumulate(g, g.load, on_i), on_i)
    return run_mem("go_leak_map_per_request", rng, m, True, leak_frac(rng), on_i, t_on)


def go_leak_slow_sawtooth(rng):
    """A slow leak (<= 0.1 %/min of base) under a big Go GC sawtooth (GOGC 150-400, cycles
    of 30-120 s): a background ticker appends to a slice that is never trimmed."""
    g = Grid(rng, lmin=3600.0, ivs=(1, 2, 5, 5, 10, 10, 15, 15, 30))
    make_load(rng, g, rng.choice(([], ["bursts"])))
    rt = GoRT(rng, g.end, mem_target(rng), obs="heap" if rng.random() < 0.8 else "rss",
              gogc=rng.choice((150, 200, 300, 400)), period=(30.0, 120.0))
    m = mid_life(rng, Mem(g, rt))
    m.nh = stacks(rng, g)
    minutes = g.end / 60.0
    f = min(leak_frac(rng, hard=0.5, hi=1.0), 0.001 * minutes)
    f = max(f, 0.045)
    m.leak = ([t for t in g.t], 0)
    return run_mem("go_leak_slow_sawtooth", rng, m, True, f, 0, 0.0, noise="low")


def go_leak_goroutine_stacks(rng):
    """Go: a goroutine per failed request blocks forever on a channel nobody reads; each
    keeps its stack and the request's buffers. Failures come in incidents, so does the leak."""
    g = Grid(rng, lmin=900.0)
    make_load(rng, g, long_kinds(rng, g, ["bursts"]))
    rt = GoRT(rng, g.end, mem_target(rng))
    m = mid_life(rng, Mem(g, rt))
    m.nh = stacks(rng, g)
    err = error_bursts(rng, g)
    N = int(lu(rng, 50, 4000))
    sizes = [lu(rng, 8 * KiB, 256 * KiB) for _ in range(N)]
    m.leak = (events(rng, g, [a * b for a, b in zip(g.load, err)], 0, N, sizes), 0)
    return run_mem("go_leak_goroutine_stacks", rng, m, True, leak_frac(rng), 0, 0.0)


def jvm_leak_slow(rng):
    """JVM: a static collection grows steadily (metrics per unique tag, a registry of
    sessions); after each major collection the old-gen floor is a little higher."""
    g = Grid(rng, lmin=1800.0)
    make_load(rng, g, rng.choice(([], ["bursts"])))
    f = leak_frac(rng, hard=0.45, hi=0.8)
    rt = JvmRT(rng, g.end, mem_target(rng), obs="heap", Tmaj=lu(rng, 0.04, 0.3) * g.end, reserve=f)
    m = mid_life(rng, Mem(g, rt))
    I = [0.5 + 0.5 * x for x in g.load]
    m.leak = (cumulate(g, I, 0), 0)
    return run_mem("jvm_leak_slow", rng, m, True, f, 0, 0.0, noise="low")


def jvm_leak_listener(rng):
    """JVM: a listener / callback registered per event (reconnect, config refresh, new
    session) and never removed; each keeps its closure's object graph: a staircase."""
    g = Grid(rng, lmin=900.0)
    make_load(rng, g, rng.choice(([], ["bursts"])))
    f = leak_frac(rng, hi=0.8)
    rt = JvmRT(rng, g.end, mem_target(rng), obs="heap", Tmaj=lu(rng, 0.05, 0.3) * g.end, reserve=f)
    m = mid_life(rng, Mem(g, rt))
    N = int(lu(rng, 8, 1500))
    sizes = [lu(rng, 0.3, 3.0) for _ in range(N)]
    I = [1.0] * g.n
    t_on, on_i = mid_onset(rng, g, 0.2)
    m.leak = (events(rng, g, I, on_i, N, sizes), on_i)
    return run_mem("jvm_leak_listener", rng, m, True, f, on_i, t_on)


def node_leak_closures(rng):
    """Node.js: an EventEmitter gets a listener (closure over the request) per connection
    and never removes it; leaked bytes follow connections opened."""
    g = Grid(rng, lmin=600.0)
    make_load(rng, g, long_kinds(rng, g, ["bursts"]))
    rt = NodeRT(rng, g.end, mem_target(rng))
    m = mid_life(rng, Mem(g, rt))
    ext = rt.live * rng.uniform(0.02, 0.15)
    m.nh = [ext * x for x in g.load]
    t_on, on_i = mid_onset(rng, g, 0.25)
    N = int(lu(rng, 50, 5000))
    sizes = [lu(rng, 0.5, 2.0) for _ in range(N)]
    m.leak = (events(rng, g, g.load, on_i, N, sizes), on_i)
    return run_mem("node_leak_closures", rng, m, True, leak_frac(rng), on_i, t_on)


def node_leak_buffers_error(rng):
    """Node.js: a Buffer per connection kept in a module-level array when the request
    fails (the cleanup is on the success path only): external memory leaks in incidents."""
    g = Grid(rng, lmin=900.0)
    make_load(rng, g, long_kinds(rng, g, ["bursts"]))
    rt = NodeRT(rng, g.end, mem_target(rng), obs="rss")
    m = mid_life(rng, Mem(g, rt))
    ext = rt.live * rng.uniform(0.02, 0.2)
    m.nh = [ext * x for x in g.load]
    err = error_bursts(rng, g)
    N = int(lu(rng, 40, 3000))
    sizes = [lu(rng, 0.3, 3.0) for _ in range(N)]
    m.leak = (events(rng, g, [a * b for a, b in zip(g.load, err)], 0, N, sizes), 0)
    m.leak_nonheap = True
    return run_mem("node_leak_buffers_error", rng, m, True, leak_frac(rng), 0, 0.0)


def native_leak_error_path(rng):
    """C/C++: a per-connection buffer is not freed on an error path; glibc keeps the pages,
    so RSS rises in steps during error incidents and never comes back."""
    g = Grid(rng, lmin=900.0)
    make_load(rng, g, long_kinds(rng, g, rng.choice((["bursts"], ["steps"]))))
    rt = NativeRT(rng, g.end, mem_target(rng))
    m = mid_life(rng, Mem(g, rt))
    infl = rt.live * rng.uniform(0.05, 0.3)
    m.base_live = rt.live - infl
    m.static = [infl * x for x in g.load]
    err = error_bursts(rng, g)
    N = int(lu(rng, 30, 3000))
    sizes = [lu(rng, 0.3, 3.0) for _ in range(N)]
    t_on, on_i = mid_onset(rng, g, 0.2)
    m.leak = (events(rng, g, [a * b for a, b in zip(g.load, err)], on_i, N, sizes), on_i)
    return run_mem("native_leak_error_path", rng, m, True, leak_frac(rng), on_i, t_on)


def leak_midrun_flag(rng):
    """A leak that starts mid-run (20-70 %): a feature flag turns on a code path that
    caches per request without eviction, or a deploy ships the bug (restart, then leak)."""
    g = Grid(rng, lmin=1200.0)
    make_load(rng, g, long_kinds(rng, g, rng.choice(([], ["bursts"], ["steps"]))))
    rt = any_rt(rng, g.end, mem_target(rng), leak=True, reserve=0.8)
    m = mid_life(rng, Mem(g, rt))
    w = rt.live * rng.uniform(0.0, 0.2)
    m.base_live = rt.live - w
    m.warm = [(w, lu(rng, 20.0, 600.0))]
    t_on = rng.uniform(0.2, 0.7) * g.end
    if rng.random() < 0.4:
        up = t_on + lu(rng, 5.0, 60.0)
        m.restarts = [(t_on, up)]
        t_on = up
    on_i = g.idx(t_on)
    if on_i >= g.n - 5:
        on_i = g.n - 5
        t_on = g.t[on_i]
    m.leak = (cumulate(g, g.load, on_i), on_i)
    return run_mem("leak_midrun_flag", rng, m, True, leak_frac(rng, hi=0.8), on_i, t_on)


def leak_under_warmup(rng):
    """A leak from the start under a warm-up of similar or larger size that takes 10-40 %
    of the run to level off: the early growth is mostly warm-up, the late growth is the leak."""
    g = Grid(rng, lmin=1200.0)
    make_load(rng, g, rng.choice(([], ["bursts"])))
    f = leak_frac(rng, hi=0.8)
    rt = any_rt(rng, g.end, mem_target(rng), leak=True, reserve=f)
    m = Mem(g, rt)
    w = rt.live * rng.uniform(0.1, 0.5)
    m.base_live = rt.live - w
    m.warm = [(w, rng.uniform(0.05, 0.15) * g.end)]
    I = g.load if rng.random() < 0.5 else [1.0] * g.n
    m.leak = (cumulate(g, I, 0), 0)
    return run_mem("leak_under_warmup", rng, m, True, f, 0, 0.0)


def leak_oom_restart(rng):
    """Grows to the container memory limit, OOM-killed, restarted (a hole while down),
    warms up and leaks again: repeatedly."""
    g = Grid(rng, lmin=1800.0)
    make_load(rng, g, long_kinds(rng, g, rng.choice(([], ["bursts"]))))
    B = mem_target(rng)
    k = rng.choice(("go", "node", "native"))
    rt = GoRT(rng, g.end, B, obs="rss") if k == "go" else NodeRT(rng, g.end, B, obs="rss") if k == "node" \
        else NativeRT(rng, g.end, B)
    m = mid_life(rng, Mem(g, rt))
    w = rt.live * rng.uniform(0.0, 0.2)
    m.base_live = rt.live - w
    m.warm = [(w, lu(rng, 20.0, 300.0))]
    I = g.load if rng.random() < 0.6 else [1.0] * g.n
    m.leak = (cumulate(g, I, 0), 0)
    oom = (rng.uniform(1.3, 2.5), rng.uniform(2.2, 6.0))
    return run_mem("leak_oom_restart", rng, m, True, None, 0, 0.0, oom=oom)


def leak_daily_per_request(rng):
    """A day of traffic with a per-request leak: it grows by day and stalls at night
    (looks like steps), on top of memory that follows the daily cycle."""
    g = Grid(rng, lmin=12 * 3600.0, ivs=(5, 10, 10, 15, 15, 30, 30, 60))
    make_load(rng, g, ["daily"] + (["bursts"] if rng.random() < 0.4 else []))
    f = leak_frac(rng, hi=1.0)
    rt = any_rt(rng, g.end, mem_target(rng), leak=True, reserve=f)
    m = mid_life(rng, Mem(g, rt))
    infl = rt.live * rng.uniform(0.05, 0.3)
    m.base_live = rt.live - infl
    m.static = [infl * x for x in g.load]
    m.leak = (cumulate(g, g.load, 0), 0)
    return run_mem("leak_daily_per_request", rng, m, True, f, 0, 0.0)


def leak_unbounded_cache(rng):
    """A cache without a size bound keyed by something unbounded (session ids, URLs with
    query strings): distinct keys keep arriving (Heaps' law, ~ requests^0.6-1), so it keeps growing."""
    g = Grid(rng, lmin=900.0)
    make_load(rng, g, long_kinds(rng, g, rng.choice(([], ["bursts"]))))
    f = leak_frac(rng, hi=1.0)
    rt = JvmRT(rng, g.end, mem_target(rng), obs="heap", reserve=f) if rng.random() < 0.7 else GoRT(rng, g.end, mem_target(rng))
    m = mid_life(rng, Mem(g, rt))
    a = rng.uniform(0.6, 1.0)
    m.leak = ([(m.age0 + c) ** a for c in g.cum], 0)
    return run_mem("leak_unbounded_cache", rng, m, True, f, 0, 0.0)


# --------------------------------------------------------------------------------------
# Resource counts
# --------------------------------------------------------------------------------------

BASE_RANGE = {"bytes": (30e6, 6e9), "fds": (10, 3000), "sockets": (5, 800), "threads": (8, 600)}


def count_target(rng, unit):
    lo, hi = BASE_RANGE[unit]
    return lu(rng, lo * 1.5, hi / 1.6)


def concurrency(rng, g, mean):
    """In-flight requests (Little's law: rate * latency), Poisson at each scrape."""
    return [poisson(rng, mean * x) for x in g.load]


def count_spikes(rng, vals, base):
    """Short-lived handles: a cron job, a health-check storm, a log rotation."""
    ps = lu(rng, 5e-4, 8e-3)
    n = len(vals)
    i = 0
    while i < n:
        if rng.random() < ps:
            a = max(1, int(lu(rng, 1.0, max(1.5, 0.3 * base))))
            for j in range(i, min(n, i + rng.choice((1, 1, 2)))):
                vals[j] += a
            i += 3
        else:
            i += 1


def pool_sockets(rng, g, B, resets=()):
    """Connection pool sized by load: opens when demand exceeds the pool (up to max),
    closes idle connections above min-idle after an idle timeout."""
    dm = B * rng.uniform(0.2, 0.6)
    demand = concurrency(rng, g, dm)
    mx = max(2, int(dm * lu(rng, 1.3, 4.0)))
    mn = int(rng.uniform(0.0, 0.5) * dm)
    idle = lu(rng, 30.0, 900.0)
    w = window_max(g.t, demand, idle, resets)
    return [min(mx, max(mn, x)) for x in w]


def finish_counts(family, unit, rng, g, healthy, leak=False, lk=None, onset=None, restarts=0,
                  keep=None):
    vals = list(healthy)
    keep = keep if keep is not None else g.keep
    base = median([healthy[i] for i in range(g.n) if keep[i]])
    if leak:
        for i in range(g.n):
            vals[i] += lk[i]
    count_spikes(rng, vals, base)
    return finish(family, "resources", unit, g, vals, keep, base, leak,
                  onset if leak else None, lk if leak else None, restarts)


def count_leak(rng, g, h, I, on_i, n_min=3, f=None):
    """Exactly N leaked handles placed with intensity I: N is f * base (f >= 4.5 %), but at
    least n_min, 1.5 sqrt(base) (the Poisson scatter of a load-following count) and half the
    healthy series' wander."""
    base = median([h[i] for i in range(g.n) if g.keep[i]])
    f = f if f is not None else leak_frac(rng)
    N = max(n_min, int(math.ceil(f * base)), int(math.ceil(1.5 * math.sqrt(base))),
            int(math.ceil(0.5 * wander(g, h, g.keep, on_i))))
    return events(rng, g, I, on_i, N)


def pool_follows_load(rng):
    """Outbound connection pool (DB, upstream HTTP) sized by load: grows in bursts and by
    day, idle connections above min-idle close after an idle timeout."""
    g = Grid(rng)
    make_load(rng, g, long_kinds(rng, g, [rng.choice(("bursts", "steps", "bursts"))]))
    B = count_target(rng, "sockets")
    static = max(1, int(B * rng.uniform(0.05, 0.3)))
    pool = pool_sockets(rng, g, B)
    h = [static + p for p in pool]
    return finish_counts("pool_follows_load", "sockets", rng, g, h)


def pool_grows_to_max(rng):
    """A pool under a load ramp grows to its maximum size and holds there (requests queue
    for a connection); it only looks like growth."""
    g = Grid(rng, lmin=600.0)
    make_load(rng, g, ["ramp"])
    unit = rng.choice(("sockets", "fds"))
    B = count_target(rng, unit)
    static = max(2, int(B * rng.uniform(0.05, 0.4)))
    peak = max(g.load)
    dm = (B - static) * rng.uniform(0.4, 0.9)
    demand = concurrency(rng, g, dm)
    mx = max(2, int(dm * peak * rng.uniform(0.5, 0.85)))
    mn = int(dm * rng.uniform(0.1, 0.5))
    w = window_max(g.t, demand, lu(rng, 60.0, 1800.0))
    h = [static + min(mx, max(mn, x)) for x in w]
    return finish_counts("pool_grows_to_max", unit, rng, g, h)


def threadpool_keepalive(rng):
    """JVM thread pool: JVM threads (GC, JIT, timers) plus a pool that creates workers
    under load up to max and retires those above core after a keep-alive of idle time."""
    g = Grid(rng)
    make_load(rng, g, long_kinds(rng, g, [rng.choice(("bursts", "ramp", "steps"))]))
    B = count_target(rng, "threads")
    jvm = max(4, int(B * rng.uniform(0.1, 0.4)))
    dm = max(0.5, (B - jvm) * rng.uniform(0.2, 0.6))
    act = concurrency(rng, g, dm)
    core = int(dm * rng.uniform(0.3, 1.2))
    mx = max(core + 1, int(dm * lu(rng, 1.5, 5.0)))
    keep = rng.choice((30.0, 60.0, 60.0, 120.0, 300.0))
    w = window_max(g.t, act, keep)
    hw = 0
    h = []
    for a, x in zip(act, w):
        if a > hw:
            hw = a
        h.append(jvm + min(mx, max(min(core, hw), x)))
    return finish_counts("threadpool_keepalive", "threads", rng, g, h)


def goroutines_follow_load(rng):
    """Go goroutine count: runtime and background goroutines, one or more per in-flight
    request, two per kept-alive connection (read / write loops)."""
    g = Grid(rng)
    make_load(rng, g, long_kinds(rng, g, [rng.choice(("bursts", "ramp", "steps", "rampdown"))]))
    B = count_target(rng, "threads")
    bg = max(3, int(B * rng.uniform(0.1, 0.5)))
    dm = max(0.5, (B - bg) * rng.uniform(0.1, 0.4))
    act = concurrency(rng, g, dm)
    gpr = rng.choice((1, 1, 2, 3))
    conns = window_max(g.t, act, lu(rng, 30.0, 300.0))
    h = [bg + gpr * a + 2 * c for a, c in zip(act, conns)]
    return finish_counts("goroutines_follow_load", "threads", rng, g, h)


def fd_healthy_steps(rng):
    """Open files: one to three one-off steps (a new log file, a plugin loaded, a listener
    added by a config reload), pool sockets, sometimes a restart that reopens everything."""
    g = Grid(rng, lmin=900.0)
    make_load(rng, g, rng.choice(([], ["bursts"])))
    B = count_target(rng, "fds")
    static = max(5, int(B * rng.uniform(0.3, 0.7)))
    rest = plan_restarts(rng, g, 1) if rng.random() < 0.5 else []
    keep = list(g.keep)
    resets = []
    for td, tu in rest:
        for i in range(g.idx(td), g.idx(tu)):
            keep[i] = False
        resets.append(g.idx(tu))
    pool = pool_sockets(rng, g, (B - static) * 0.5, resets)
    st = [0.0] * g.n
    for _ in range(rng.randint(1, 3)):
        ts = rng.uniform(0.1, 0.85) * g.end
        a = max(1, int(B * rng.uniform(0.03, 0.25))) * (1 if rng.random() < 0.8 else -1)
        for i in range(g.idx(ts), g.n):
            st[i] += a
        for td, tu in rest:                        # after a restart the lazy step happens again, soon
            if td > ts:
                again = tu + lu(rng, 10.0, 600.0)
                for i in range(g.idx(tu), g.idx(again)):
                    st[i] -= a
    h = [max(3, static + p + s) for p, s in zip(pool, st)]
    return finish_counts("fd_healthy_steps", "fds", rng, g, h, restarts=len(rest), keep=keep)


def fd_healthy_daily(rng):
    """Open fds over a day: inbound keep-alive connections from a population of clients,
    plus pool sockets and files, all following the daily cycle."""
    g = Grid(rng, lmin=12 * 3600.0, ivs=(5, 10, 10, 15, 15, 30, 30, 60))
    make_load(rng, g, ["daily"] + (["bursts"] if rng.random() < 0.3 else []))
    B = count_target(rng, "fds")
    static = max(5, int(B * rng.uniform(0.1, 0.4)))
    clients = (B - static) * rng.uniform(0.4, 1.2)
    kk = lu(rng, 0.1, 1.0)
    pool = pool_sockets(rng, g, (B - static) * 0.3)
    h = [static + poisson(rng, clients * (1.0 - math.exp(-kk * x))) + p for x, p in zip(g.load, pool)]
    return finish_counts("fd_healthy_daily", "fds", rng, g, h)


def fd_leak_error_path(rng):
    """A file (or temp file) opened on an error path and never closed: fds leak during
    error incidents, on top of a load-following pool."""
    g = Grid(rng, lmin=600.0)
    make_load(rng, g, long_kinds(rng, g, rng.choice(([], ["bursts"], ["bursts"]))))
    B = count_target(rng, "fds")
    static = max(5, int(B * rng.uniform(0.3, 0.7)))
    pool = pool_sockets(rng, g, (B - static) * 0.6)
    h = [static + p for p in pool]
    t_on, on_i = mid_onset(rng, g, 0.25)
    err = error_bursts(rng, g, t_on)
    lk = count_leak(rng, g, h, [a * b for a, b in zip(g.load, err)], on_i)
    return finish_counts("fd_leak_error_path", "fds", rng, g, h, True, lk, t_on)


def fd_leak_slow(rng):
    """A slow fd leak (a watcher or a rotated log reopened by a timer without closing the
    old one) under a noisy pool: a handful of fds over the run."""
    g = Grid(rng, lmin=1800.0)
    make_load(rng, g, long_kinds(rng, g, ["bursts"]))
    B = count_target(rng, "fds")
    static = max(5, int(B * rng.uniform(0.2, 0.6)))
    pool = pool_sockets(rng, g, (B - static) * 0.7)
    h = [static + p for p in pool]
    lk = count_leak(rng, g, h, [1.0] * g.n, 0, n_min=4, f=leak_frac(rng, hard=0.6, hi=0.5))
    return finish_counts("fd_leak_slow", "fds", rng, g, h, True, lk, 0.0)


def socket_close_wait(rng):
    """Sockets left in CLOSE_WAIT: the peer closes (timeouts, upstream restarts) and the
    code path never calls close(); a share of connections leaks, following load."""
    g = Grid(rng, lmin=600.0)
    make_load(rng, g, long_kinds(rng, g, [rng.choice(("bursts", "steps", "ramp"))]))
    B = count_target(rng, "sockets")
    static = max(1, int(B * rng.uniform(0.05, 0.3)))
    pool = pool_sockets(rng, g, B)
    h = [static + p for p in pool]
    t_on, on_i = mid_onset(rng, g, 0.25)
    I = g.load
    if rng.random() < 0.5:                          # upstream restarts: peers close in batches
        e = error_bursts(rng, g, t_on)
        I = [a * b for a, b in zip(g.load, e)]
    lk = count_leak(rng, g, h, I, on_i)
    return finish_counts("socket_close_wait", "sockets", rng, g, h, True, lk, t_on)


def socket_leak_midrun(rng):
    """A new code path (20-70 % into the run) creates an HTTP client per request and never
    closes it: its keep-alive socket stays open, at a share of requests."""
    g = Grid(rng, lmin=900.0)
    make_load(rng, g, long_kinds(rng, g, rng.choice(([], ["bursts"]))))
    B = count_target(rng, "sockets")
    static = max(1, int(B * rng.uniform(0.05, 0.3)))
    pool = pool_sockets(rng, g, B)
    h = [static + p for p in pool]
    t_on = rng.uniform(0.2, 0.7) * g.end
    on_i = g.idx(t_on)
    lk = count_leak(rng, g, h, g.load, on_i)
    return finish_counts("socket_leak_midrun", "sockets", rng, g, h, True, lk, t_on)


def goroutine_leak_blocked(rng):
    """Go: one goroutine per failed request blocked forever (send on a channel nobody
    reads after a timeout), on top of a goroutine count that follows load."""
    g = Grid(rng, lmin=600.0)
    make_load(rng, g, long_kinds(rng, g, [rng.choice(("bursts", "steps"))]))
    B = count_target(rng, "threads")
    bg = max(3, int(B * rng.uniform(0.1, 0.5)))
    dm = max(0.5, (B - bg) * rng.uniform(0.1, 0.4))
    act = concurrency(rng, g, dm)
    conns = window_max(g.t, act, lu(rng, 30.0, 300.0))
    h = [bg + a + 2 * c for a, c in zip(act, conns)]
    t_on, on_i = mid_onset(rng, g, 0.2)
    I = g.load
    if rng.random() < 0.6:
        e = error_bursts(rng, g, t_on)
        I = [a * b for a, b in zip(g.load, e)]
    lk = count_leak(rng, g, h, I, on_i)
    return finish_counts("goroutine_leak_blocked", "threads", rng, g, h, True, lk, t_on)


def thread_leak_per_task(rng):
    """JVM: a scheduled task creates an executor (or a Thread) each run and never shuts it
    down: one more idle thread per period, a regular staircase."""
    g = Grid(rng, lmin=1800.0)
    make_load(rng, g, rng.choice(([], ["bursts"])))
    B = count_target(rng, "threads")
    jvm = max(4, int(B * rng.uniform(0.2, 0.6)))
    dm = max(0.5, (B - jvm) * rng.uniform(0.2, 0.6))
    act = concurrency(rng, g, dm)
    w = window_max(g.t, act, 60.0)
    core = int(dm * rng.uniform(0.3, 1.0))
    h = [jvm + max(core, x) for x in w]
    base = median(h)
    t_on, on_i = mid_onset(rng, g, 0.3)
    N = max(4, int(math.ceil(leak_frac(rng, hi=1.0) * base)), int(math.ceil(1.5 * math.sqrt(base))),
            int(math.ceil(0.5 * wander(g, h, g.keep, on_i))))
    per_task = rng.choice((1, 1, 1, 2, 4))
    N = max(1, int(math.ceil(N / per_task)))
    period = (g.end - t_on) / (N + rng.uniform(0.0, 0.9))
    ph = rng.uniform(0.05, 0.95) * period
    lk = [0.0] * g.n
    j = 0
    for i in range(on_i, g.n):
        while j < N and t_on + ph + j * period <= g.t[i]:
            j += 1
        lk[i] = float(j * per_task)
    return finish_counts("thread_leak_per_task", "threads", rng, g, h, True, lk, t_on)


def fd_leak_emfile_restart(rng):
    """fds leak until the process hits its open-files limit (EMFILE: accept() fails), the
    liveness probe restarts it, and it leaks again: repeatedly."""
    g = Grid(rng, lmin=1800.0)
    make_load(rng, g, long_kinds(rng, g, rng.choice(([], ["bursts"]))))
    B = count_target(rng, "fds")
    static = max(5, int(B * rng.uniform(0.3, 0.7)))
    dm = (B - static) * 0.5
    demand = concurrency(rng, g, dm)
    idle = lu(rng, 30.0, 600.0)
    base0 = static + median(window_max(g.t, demand, idle))
    lims = [x for x in (256, 1024, 4096, 65536) if x >= 1.3 * base0]
    limit = lims[0] if lims and rng.random() < 0.7 else int(base0 * rng.uniform(1.3, 3.0))
    cycles = rng.uniform(2.2, 6.0)
    I = g.load if rng.random() < 0.5 else [1.0] * g.n
    C = cumulate(g, I, 0)
    rate = (limit - base0) * cycles / C[-1]       # leaked fds per unit of intensity
    T = g.t
    keep = list(g.keep)
    h = [0.0] * g.n
    lk = [0.0] * g.n
    dq = deque()
    down = None
    c0 = 0.0
    nxt = -math.log(1.0 - rng.random()) / rate
    leaked = 0
    restarts = 0
    i = 0
    while i < g.n:
        t = T[i]
        if down is not None:
            if t < down:
                keep[i] = False
                i += 1
                continue
            down = None
            dq.clear()
            c0 = C[i]
            leaked = 0
            nxt = -math.log(1.0 - rng.random()) / rate
            restarts += 1
        while C[i] - c0 >= nxt:
            leaked += 1
            nxt += -math.log(1.0 - rng.random()) / rate
        x = demand[i]
        while dq and demand[dq[-1]] <= x:
            dq.pop()
        dq.append(i)
        while T[dq[0]] < t - idle:
            dq.popleft()
        hv = static + demand[dq[0]]
        v = hv + leaked
        if v >= limit:
            leaked = limit - hv
            v = limit
            down = t + rng.uniform(0.1, 1.0) * g.iv + lu(rng, 5.0, 90.0)
        h[i] = hv
        lk[i] = leaked
        i += 1
    return finish_counts("fd_leak_emfile_restart", "fds", rng, g, h, True, lk, 0.0,
                         restarts=restarts, keep=keep)


# --------------------------------------------------------------------------------------

FAMILIES = [
    go_healthy_bursty, go_leak_map_per_request, pool_follows_load,
    go_healthy_memlimit, go_leak_slow_sawtooth, fd_leak_error_path,
    go_healthy_warmup_slow, go_leak_goroutine_stacks, threadpool_keepalive,
    jvm_healthy_oldgen_fill, jvm_leak_slow, socket_close_wait,
    jvm_healthy_committed, jvm_leak_listener, goroutines_follow_load,
    node_healthy_external, node_leak_closures, goroutine_leak_blocked,
    native_healthy_arenas, node_leak_buffers_error, fd_healthy_steps,
    cache_lru_fill, native_leak_error_path, fd_leak_slow,
    cache_ttl_follows_load, leak_midrun_flag, pool_grows_to_max,
    svc_healthy_daily, leak_under_warmup, socket_leak_midrun,
    svc_healthy_ramp, leak_oom_restart, fd_healthy_daily,
    svc_healthy_steps, leak_daily_per_request, thread_leak_per_task,
    svc_healthy_restart, leak_unbounded_cache, fd_leak_emfile_restart,
    svc_healthy_batch_drift,
]


def series_seed(seed, i, attempt):
    h = hashlib.sha256(("mechanisms:%d:%d:%d" % (seed, i, attempt)).encode()).digest()
    return int.from_bytes(h[:8], "big")


def check(s):
    """Label consistency; returns a reason string or None."""
    n = len(s.t)
    if not (MIN_ROWS <= n <= MAX_ROWS):
        return "rows %d" % n
    if s.t[0] != 0.0:
        return "t0"
    prev = -1.0
    for t in s.t:
        r = round(t, 3)
        if r <= prev:
            return "time order"
        prev = r
    if s.leak:
        if s.onset is None:
            return "no onset"
        k = bisect.bisect_right(s.t, s.onset)
        if k >= n:
            return "onset after end"
        at_on = s.lp[k - 1] if k > 0 else 0.0   # leak part at the last sample not after onset
        if s.restarts:
            grow = max(s.lp) - at_on
        else:
            grow = s.lp[-1] - at_on
        if grow < 0.04 * s.base:
            return "leak growth %.4f of base" % (grow / s.base)
    elif any(s.lp):
        return "healthy with leak part"
    lo, hi = BASE_RANGE[s.unit]
    if not lo <= s.base <= hi:
        return "base %g outside %g-%g" % (s.base, lo, hi)
    return None


def make_series(seed, i):
    fam = FAMILIES[i % len(FAMILIES)]
    why = None
    for attempt in range(8):
        rng = random.Random(series_seed(seed, i, attempt))
        s = fam(rng)
        why = check(s)
        if why is None:
            return s, attempt
    raise RuntimeError("series %d (%s) failed its checks: %s" % (i, fam.__name__, why))


def fmt_num(x):
    s = "%.3f" % x
    s = s.rstrip("0").rstrip(".")
    return s if s else "0"


def write_series(path, s, requests=False):
    col = COLUMN[s.unit]
    if requests and s.req is not None:
        out = ["t_seconds,%s,requests_total\n" % col]
        out.extend("%.3f,%d,%d\n" % row for row in zip(s.t, s.v, s.req))
    else:
        out = ["t_seconds,%s\n" % col]
        out.extend("%.3f,%d\n" % (t, v) for t, v in zip(s.t, s.v))
    with open(path, "w") as fh:
        fh.write("".join(out))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Mechanism-based labelled leak corpus.")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--days", type=float, nargs=2, metavar=("LO", "HI"),
                    help="every run lasts LO-HI days (a multi-day corpus: daily cycles seen whole)")
    ap.add_argument("--requests", action="store_true",
                    help="add a requests_total column (requests served so far, %g/s at a "
                         "relative load of 1) to every series that has a load, for the "
                         "scorer's --with-load" % REQ_PER_S)
    a = ap.parse_args(argv)
    global LENGTH_DAYS
    LENGTH_DAYS = a.days
    t0 = time.time()
    os.makedirs(a.out, exist_ok=True)
    rows = ["file,family,class,unit,leak,onset_s,base,interval_s,samples,length_s\n"]
    points = leaks = retries = 0
    for i in range(a.n):
        s, att = make_series(a.seed, i)
        retries += att
        name = "%04d_%s.csv" % (i, s.family)
        write_series(os.path.join(a.out, name), s, a.requests)
        points += len(s.t)
        leaks += s.leak
        rows.append("%s,%s,%s,%s,%s,%s,%d,%s,%d,%.3f\n" % (
            name, s.family, s.cls, s.unit, "true" if s.leak else "false",
            fmt_num(s.onset) if s.leak else "", int(round(s.base)), fmt_num(s.iv),
            len(s.t), s.t[-1]))
    with open(os.path.join(a.out, "labels.csv"), "w") as fh:
        fh.write("".join(rows))
    if not a.quiet:
        print("mechanisms: %d series (%d leaks, %d families) %d points in %s in %.1f s%s" % (
            a.n, leaks, len(FAMILIES), points, a.out, time.time() - t0,
            (", %d regenerated" % retries) if retries else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
