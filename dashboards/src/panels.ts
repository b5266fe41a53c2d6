import { PanelBuilder as BarGaugeBuilder } from '@grafana/grafana-foundation-sdk/bargauge';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  BarGaugeDisplayMode,
  GraphDrawStyle,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  VizLegendOptionsBuilder,
  VizOrientation,
} from '@grafana/grafana-foundation-sdk/common';
import { ThresholdsConfigBuilder, ThresholdsMode } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { DATASOURCE } from './datasource.ts';

/** A threshold step: from `value` upwards the colour applies (the first step starts at -∞). */
export interface Step {
  value: number;
  color: string;
  /** What the value stands for (a limit, a guideline); listed in the panel description and the README. */
  label: string;
}

export function thresholds(base: string, steps: readonly Step[]) {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps([{ value: null, color: base }, ...steps.map((s) => ({ value: s.value, color: s.color }))]);
}

/** Appends the threshold meanings to a description so the panel explains its own lines. */
export function describeSteps(description: string, steps: readonly Step[], unit: string): string {
  if (steps.length === 0) return description;
  const u = unit === 'none' ? '' : ` ${unit}`;
  return `${description} Thresholds: ${steps.map((s) => `${s.value}${u} (${s.label})`).join('; ')}.`;
}

const legend = () =>
  new VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(LegendDisplayMode.List)
    .placement(LegendPlacement.Bottom)
    .calcs([]);

interface Common {
  title: string;
  description: string;
  unit: string;
  targets: readonly cog.Builder<cog.Dataquery>[];
  /** Unit as people read it in descriptions (`µg/m³`), when the Grafana unit id is not (`conmgm3`). */
  stepsLabel?: string;
  width?: number;
  height?: number;
}

export function timeseries(
  o: Common & {
    bars?: boolean;
    steps?: readonly Step[];
    /** Colour below the first step (red for quantities where low is bad: battery, soil moisture). */
    base?: string;
    thresholdStyle?: GraphThresholdsStyleMode;
  },
) {
  const steps = o.steps ?? [];
  const panel = new TimeseriesBuilder()
    .title(o.title)
    .description(describeSteps(o.description, steps, o.stepsLabel ?? o.unit))
    .datasource(DATASOURCE)
    .targets([...o.targets])
    .unit(o.unit)
    .span(o.width ?? 12)
    .height(o.height ?? 8)
    .legend(legend())
    .drawStyle(o.bars ? GraphDrawStyle.Bars : GraphDrawStyle.Line)
    .fillOpacity(o.bars ? 80 : 10)
    .spanNulls(true);
  if (steps.length > 0) {
    panel
      .thresholds(thresholds(o.base ?? 'green', steps))
      .thresholdsStyle(
        new GraphThresholdsStyleConfigBuilder().mode(o.thresholdStyle ?? GraphThresholdsStyleMode.Dashed),
      );
  }
  return panel;
}

export function stat(o: Common & { steps?: readonly Step[]; base?: string }) {
  return new StatBuilder()
    .title(o.title)
    .description(describeSteps(o.description, o.steps ?? [], o.stepsLabel ?? o.unit))
    .datasource(DATASOURCE)
    .targets([...o.targets])
    .unit(o.unit)
    .span(o.width ?? 6)
    .height(o.height ?? 4)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .thresholds(thresholds(o.base ?? 'green', o.steps ?? []));
}

/** One bar per series or table row (e.g. per device), horizontal so long device ids stay readable. */
export function barGauge(
  o: Common & { steps?: readonly Step[]; base?: string; min?: number; max?: number; rows?: boolean },
) {
  const panel = new BarGaugeBuilder()
    .title(o.title)
    .description(describeSteps(o.description, o.steps ?? [], o.stepsLabel ?? o.unit))
    .datasource(DATASOURCE)
    .targets([...o.targets])
    .unit(o.unit)
    .span(o.width ?? 12)
    .height(o.height ?? 8)
    .orientation(VizOrientation.Horizontal)
    .displayMode(BarGaugeDisplayMode.Gradient)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(o.rows ?? false))
    .thresholds(thresholds(o.base ?? 'green', o.steps ?? []));
  if (o.min !== undefined) panel.min(o.min);
  if (o.max !== undefined) panel.max(o.max);
  return panel;
}

export function table(o: Common) {
  return new TableBuilder()
    .title(o.title)
    .description(o.description)
    .datasource(DATASOURCE)
    .targets([...o.targets])
    .unit(o.unit)
    .span(o.width ?? 12)
    .height(o.height ?? 8);
}
