import { z } from 'zod';

/** GET /v1/dashboard/settings: what the dashboard shows differently by the gateway's configuration. */
export const dashboardSettingsSchema = z.object({
  /**
   * The link to a job's trace in the operators' trace UI (TRACE_UI_URL), with `{trace_id}` where the
   * job's trace id goes; null when none is configured.
   */
  trace_link: z.string().nullable(),
});
export type DashboardSettings = z.infer<typeof dashboardSettingsSchema>;
