/**
 * prefect-widgets' JupyterLab 4 extension: the "Prefect runs" left-sidebar panel. Its data
 * comes from the package's Jupyter server extension (`prefect_widgets.lab`), which holds the
 * Prefect settings and credentials; settings: `lab/schema/panel.json`.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin,
} from "@jupyterlab/application";
import { Clipboard, Notification } from "@jupyterlab/apputils";
import { INotebookTracker, NotebookActions } from "@jupyterlab/notebook";
import { ISettingRegistry } from "@jupyterlab/settingregistry";

import { getJSON, PanelError } from "./api";
import { Filters, NO_FILTERS, viewCell, widgetCell } from "./model";
import { RunsPanel } from "./panel";

const PLUGIN_ID = "prefect-widgets-frontend:panel";

interface PanelSettings {
  enabled: boolean;
  refreshSeconds: number;
  limit: number;
  filters: Filters;
}

const DEFAULTS: PanelSettings = { enabled: true, refreshSeconds: 5, limit: 50, filters: NO_FILTERS };

function read(settings: ISettingRegistry.ISettings | null): PanelSettings {
  if (!settings) return DEFAULTS;
  const c = settings.composite as Record<string, unknown>;
  const f = (c.defaultFilters ?? {}) as Partial<Record<string, unknown>>;
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    enabled: c.enabled !== false,
    refreshSeconds: typeof c.refreshSeconds === "number" ? c.refreshSeconds : DEFAULTS.refreshSeconds,
    limit: typeof c.limit === "number" ? c.limit : DEFAULTS.limit,
    filters: {
      flow: str(f.flow), deployment: str(f.deployment), state: str(f.state), tag: str(f.tag),
      sinceHours: typeof f.sinceHours === "number" ? f.sinceHours : null,
    },
  };
}

/** Insert `code` as a new code cell below the active cell of the current notebook. */
function insertCell(app: JupyterFrontEnd, tracker: INotebookTracker | null, code: string): void {
  const panel = tracker?.currentWidget;
  if (!panel) {
    Notification.warning("Open a notebook first: the cell goes below its active cell.",
                         { autoClose: 5000 });
    return;
  }
  const notebook = panel.content;
  NotebookActions.insertBelow(notebook);
  notebook.activeCell?.model.sharedModel.setSource(code);
  app.shell.activateById(panel.id);
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: "A live 'Prefect runs' side panel: recent flow runs of the configured server.",
  autoStart: true,
  optional: [ILayoutRestorer, INotebookTracker, ISettingRegistry],
  activate: async (app: JupyterFrontEnd, restorer: ILayoutRestorer | null,
                   tracker: INotebookTracker | null, registry: ISettingRegistry | null) => {
    let settings: ISettingRegistry.ISettings | null = null;
    if (registry) {
      try {
        settings = await registry.load(PLUGIN_ID);
      } catch (err) {
        console.warn("prefect-widgets: settings not loaded, using the defaults", err);
      }
    }
    let panel: RunsPanel | null = null;
    const actions = {
      insertView: (id: string) => insertCell(app, tracker, viewCell(id)),
      insertWidget: (id: string) => insertCell(app, tracker, widgetCell(id)),
      copyId: (id: string) => Clipboard.copyToSystem(id),
    };
    const apply = () => {
      const current = read(settings);
      if (!current.enabled) {
        panel?.dispose();
        panel = null;
        return;
      }
      if (panel) {
        panel.configure(current.refreshSeconds, current.limit);
        return;
      }
      panel = new RunsPanel({ actions, filters: current.filters,
                              refreshSeconds: current.refreshSeconds, limit: current.limit });
      app.shell.add(panel, "left", { rank: 600 });
      restorer?.add(panel, "prefect-widgets-runs");
    };
    apply();
    settings?.changed.connect(apply);
    try {
      await getJSON<{ version: string }>("health");
    } catch (err) {
      if (err instanceof PanelError && err.kind === "Missing") {
        Notification.warning(err.message, { autoClose: false });
      }
    }
  },
};

export default plugin;
