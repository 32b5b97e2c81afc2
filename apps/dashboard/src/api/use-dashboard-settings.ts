import { useEffect, useState } from 'react';
import type { DashboardSettings } from '@app/contracts';
import { api } from './api-client';
import { onApiKeyChange } from './api-key';

const NONE: DashboardSettings = { trace_link: null };

/**
 * What the gateway's configuration changes in the dashboard (GET /v1/dashboard/settings), loaded once
 * and again when the key changes. Until it answers, or if it fails, the dashboard shows no extras.
 */
export function useDashboardSettings(): DashboardSettings {
  const [settings, setSettings] = useState<DashboardSettings>(NONE);
  useEffect(() => {
    let live = true;
    const load = () =>
      api.dashboardSettings().then(
        (found) => live && setSettings(found),
        () => live && setSettings(NONE),
      );
    void load();
    const forget = onApiKeyChange(() => void load());
    return () => {
      live = false;
      forget();
    };
  }, []);
  return settings;
}
