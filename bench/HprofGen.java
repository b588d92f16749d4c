// Generator of large Java heaps for bench/hprof-bench.sh (issue 7): ITEMS live Item objects
// (each with a String name, a small int[] and an entry in a HashMap index), plus LEAK leaked
// Session objects (each holding a 1 KiB byte[]) added per "leak" line read from stdin.
// Prints "ready pid=PID" and "ok" after each leak step; heap dumps are taken from outside
// with `jcmd PID GC.heap_dump FILE`. Exits at end of input. Usage: java HprofGen ITEMS LEAK
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.HashMap;

public class HprofGen {
    static final class Item {
        final int id;
        final String name;
        final int[] tags;
        Item(int i) { id = i; name = "item-" + i; tags = new int[] { i & 7, i & 15 }; }
    }

    static final class Catalog {
        final ArrayList<Item> items = new ArrayList<>();
        final HashMap<Integer, Item> byId = new HashMap<>();
    }

    static final class Session {
        final int id;
        final byte[] blob = new byte[1024];
        Session(int i) { id = i; }
    }

    static final class SessionStore {
        static final ArrayList<Session> SESSIONS = new ArrayList<>();
    }

    static Catalog catalog;

    public static void main(String[] args) throws Exception {
        int items = Integer.parseInt(args.length > 0 ? args[0] : "400000");
        int leak = Integer.parseInt(args.length > 1 ? args[1] : "20000");
        catalog = new Catalog();
        for (int i = 0; i < items; i++) {
            Item it = new Item(i);
            catalog.items.add(it);
            catalog.byId.put(i, it);
        }
        System.out.println("ready pid=" + ProcessHandle.current().pid());
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        int next = 0;
        String line;
        while ((line = in.readLine()) != null) {
            if (line.trim().equals("leak")) {
                for (int k = 0; k < leak; k++) SessionStore.SESSIONS.add(new Session(next++));
            }
            System.out.println("ok");
        }
    }
}
