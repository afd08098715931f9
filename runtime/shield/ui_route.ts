/**
 * The dashboard's static shell at `/ui`: the files `deno task build` writes to `build/ui/`
 * (HTML, one bundled script, styles), served as they are. The shell holds no data and no
 * secret: every figure it shows comes from the public API, called by the page with the
 * admin token the user types in (see docs/dashboard.md). So `/ui` needs no token, while
 * every `/v1` call the page makes does when authentication is on.
 *
 * Only flat file names are served (no `/`, no leading dot): nothing outside the folder can
 * be named. A node without a built dashboard answers 404 with a typed error saying how to
 * build it.
 * @module
 */
import { Hono } from "hono";
import { BusError } from "../protocol/mod.ts";

/** Where `deno task build` puts the dashboard, relative to this file. */
export const DEFAULT_UI_DIR: URL = new URL("../../build/ui/", import.meta.url);

const FILE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  json: "application/json",
  map: "application/json",
};

/**
 * The page may load only its own files and call only its own node; it may not be framed
 * (clickjacking of an admin's session) and sends no referrer.
 */
const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  // A rebuilt dashboard shows at the next load.
  "cache-control": "no-cache",
};

/** Options of {@linkcode uiRoutes}. */
export interface UiRouteOptions {
  /**
   * The folder holding the built dashboard.
   * @default {DEFAULT_UI_DIR} (`build/ui/` of the repository)
   */
  readonly dir?: URL;
}

/** Builds the `/ui` routes. */
export function uiRoutes(options: UiRouteOptions = {}): Hono {
  const dir = options.dir ?? DEFAULT_UI_DIR;
  const app = new Hono();
  const serve = async (name: string): Promise<Response> => {
    if (!FILE.test(name)) throw new BusError("NOT_FOUND", `no dashboard file ${name}`);
    let bytes: Uint8Array;
    try {
      if (dir.protocol !== "file:") throw new Deno.errors.NotFound();
      bytes = await Deno.readFile(new URL(name, dir));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound) && !(err instanceof Deno.errors.IsADirectory)) {
        throw err;
      }
      if (name === "index.html") {
        throw new BusError(
          "NOT_FOUND",
          "the dashboard is not built: run `deno task build` in the repository",
        );
      }
      throw new BusError("NOT_FOUND", `no dashboard file ${name}`);
    }
    const ext = name.slice(name.lastIndexOf(".") + 1);
    return new Response(bytes as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": TYPES[ext] ?? "application/octet-stream", ...SECURITY_HEADERS },
    });
  };
  // Relative links in the page resolve under /ui/ only with the trailing slash.
  app.get("/ui", (c) => c.redirect("/ui/", 308));
  app.get("/ui/", () => serve("index.html"));
  app.get("/ui/:file", (c) => serve(c.req.param("file")));
  return app;
}
