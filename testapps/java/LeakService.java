// Leaky Java test service for `leakhound diff` (issue 7). Listens on 127.0.0.1 only.
//
// Per-request LEAK: every GET /work puts a SessionRecord (holding a 4 KiB byte[] and a String)
// into a static map of SessionRegistry that is never pruned.
// TRAPS (warm up, then flat): PageCache, an LRU bounded to 64 pages (LinkedHashMap with
// removeEldestEntry); CountryTable, built lazily on first use; LogRing, a 128-slot ring buffer.
// GET /quit exits. Port: $PORT (default: any free one), printed as "listening 127.0.0.1:PORT"; heap dumps are taken
// from outside with `jcmd PID GC.heap_dump FILE`. LEAK=0 in the environment keeps no session
// record (the fixed service).
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

public class LeakService {
    static final class SessionRecord {
        final int id;
        final byte[] buffer = new byte[4096];
        final String user;
        SessionRecord(int id) { this.id = id; this.user = "user-" + id; }
    }

    static final class SessionRegistry {
        static final Map<Integer, SessionRecord> SESSIONS = new HashMap<>();
    }

    static final class PageCache extends LinkedHashMap<Integer, byte[]> {
        PageCache() { super(16, 0.75f, true); }
        @Override protected boolean removeEldestEntry(Map.Entry<Integer, byte[]> e) { return size() > 64; }
    }

    static final class CountryTable {
        final String[] rows = new String[20000];
        CountryTable() { for (int i = 0; i < rows.length; i++) rows[i] = "Country number " + i; }
    }

    static final class LogRing {
        final String[] lines = new String[128];
        int next;
        void add(String s) { lines[next] = s; next = (next + 1) % lines.length; }
    }

    static final PageCache CACHE = new PageCache();
    static final LogRing RING = new LogRing();
    static CountryTable table;
    static final boolean LEAK = !"0".equals(System.getenv("LEAK"));

    static synchronized int work(int id) {
        SessionRecord rec = new SessionRecord(id);
        if (LEAK) SessionRegistry.SESSIONS.put(id, rec);
        if (table == null) table = new CountryTable();
        byte[] page = CACHE.get(id % 1000);
        if (page == null) { page = new byte[16384]; CACHE.put(id % 1000, page); }
        RING.add("GET /work " + id + " ".repeat(200));
        return page.length + table.rows[id % table.rows.length].length();
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "0"));
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 64);
        server.createContext("/work", ex -> {
            String q = ex.getRequestURI().getQuery();
            int id = q != null && q.startsWith("id=") ? Integer.parseInt(q.substring(3)) : 0;
            byte[] body = String.valueOf(work(id)).getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream o = ex.getResponseBody()) { o.write(body); }
        });
        server.createContext("/quit", ex -> System.exit(0));
        server.start();
        System.out.println("listening 127.0.0.1:" + server.getAddress().getPort());
        System.out.flush();
    }
}
