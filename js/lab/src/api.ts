/** Calls to the server part (`prefect_widgets/lab/_handlers.py`), through Jupyter's own
 * `ServerConnection`, which adds the token or XSRF header: no bare `fetch`. */
import { URLExt } from "@jupyterlab/coreutils";
import { ServerConnection } from "@jupyterlab/services";

/** The routes' namespace below the Jupyter server's base URL. */
export const NAMESPACE = "prefect-widgets";

/** A failed call: `kind` is the library's error type (`ServerUnreachable`, ...), or
 * `Missing` when the server part is not there, `Network` when Jupyter itself is not. */
export class PanelError extends Error {
  constructor(readonly kind: string, message: string, readonly status: number) {
    super(message);
  }
}

/** GET `<base>/prefect-widgets/<path>?<query>`, the answer's JSON or a `PanelError`. */
export async function getJSON<T>(path: string, query = ""): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, NAMESPACE, path) + (query ? `?${query}` : "");
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, { method: "GET" }, settings);
  } catch (err) {
    throw new PanelError("Network", `Jupyter server not reachable: ${String(err)}`, 0);
  }
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.ok && body !== null) return body as T;
  const error = (body as { error?: { type?: unknown; message?: unknown } } | null)?.error;
  if (error && typeof error.type === "string" && typeof error.message === "string") {
    throw new PanelError(error.type, error.message, response.status);
  }
  if (response.status === 404) {
    throw new PanelError("Missing", "The prefect-widgets server extension is not running in " +
      "this Jupyter server: reinstall prefect-widgets in the environment that runs " +
      "JupyterLab and restart it (`jupyter server extension list` should list " +
      "prefect_widgets.lab).", 404);
  }
  throw new PanelError("HTTP", `Unexpected answer ${response.status} from ${path}.`, response.status);
}
