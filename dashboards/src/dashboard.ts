import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  type Dashboard,
  DashboardBuilder,
  type Panel,
  type VariableModel,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { catalogue } from '../../services/common/catalogue.ts';
import { alertAnnotation } from './annotations.ts';

/** Every quantity of the catalogue: the readings' measurement names (DESIGN.md stored reading). */
export const QUANTITIES: readonly string[] = catalogue.names();

/** `/^(a|b|…)$/`: the readings' measurements, which keeps the self-metric measurements out of "any quantity" queries. */
export const QUANTITY_REGEX = `/^(${QUANTITIES.join('|')})$/`;

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: readonly string[];
  variables: readonly cog.Builder<VariableModel>[];
  panels: readonly cog.Builder<Panel>[];
  /** Default time range (Grafana's syntax); the last 6 hours unless given. */
  time?: { from: string; to: string };
}

/**
 * Builds a dashboard with the platform's defaults (alert annotations included); panel ids follow panel order so they
 * stay stable.
 */
export function buildDashboard(spec: DashboardSpec): Dashboard {
  const builder = new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(['sus', ...spec.tags])
    .time(spec.time ?? { from: 'now-6h', to: 'now' })
    .refresh('1m')
    .timezone('browser')
    .variables([...spec.variables]);
  for (const panel of spec.panels) builder.withPanel(panel);
  // Alerts on the devices a dashboard shows, on every dashboard that filters by department or device.
  const alerts = alertAnnotation(spec.variables.map((v) => v.build().name));
  if (alerts) builder.annotation(alerts);
  const dashboard = builder.build();
  for (const [i, panel] of (dashboard.panels ?? []).entries()) panel.id = i + 1;
  return dashboard;
}
