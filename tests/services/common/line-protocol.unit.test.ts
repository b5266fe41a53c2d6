import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  escapeMeasurement,
  escapeTag,
  fieldSet,
  floatValue,
  intValue,
  lineTags,
  pointLine,
  readingLine,
  stringValue,
  tagSet,
} from '../../../services/common/line-protocol.ts';
import type { ReadingTags } from '../../../services/common/reading.ts';

const TAGS: ReadingTags = {
  device: 'aq-1',
  department: 'environment',
  district: 'Altstadt',
  device_type: 'air_quality',
  source: 'mqtt',
};

describe('tagSet', () => {
  it('writes tags in lexicographic key order whatever the input order', () => {
    expect(tagSet(TAGS)).toStrictEqual(
      ',department=environment,device=aq-1,device_type=air_quality,district=Altstadt,source=mqtt',
    );
  });

  it('omits tags with an empty value', () => {
    expect(tagSet({ ...TAGS, district: '' })).toStrictEqual(
      ',department=environment,device=aq-1,device_type=air_quality,source=mqtt',
    );
  });

  it('is empty when every tag value is empty', () => {
    expect(tagSet({ device: '', department: '', district: '', device_type: '', source: '' })).toStrictEqual('');
  });

  it('escapes commas, spaces and equals signs in tag values', () => {
    expect(tagSet({ ...TAGS, district: 'Neustadt, Nord', department: 'a=b c' })).toStrictEqual(
      ',department=a\\=b\\ c,device=aq-1,device_type=air_quality,district=Neustadt\\,\\ Nord,source=mqtt',
    );
  });

  it('escapes backslashes in tag values', () => {
    expect(tagSet({ ...TAGS, district: 'a\\b' })).toStrictEqual(
      ',department=environment,device=aq-1,device_type=air_quality,district=a\\\\b,source=mqtt',
    );
  });

  it('keeps non-ASCII tag values as they are', () => {
    expect(tagSet({ ...TAGS, district: 'Südstadt' })).toStrictEqual(
      ',department=environment,device=aq-1,device_type=air_quality,district=Südstadt,source=mqtt',
    );
  });
});

describe('readingLine', () => {
  it('writes a full line with an integer value as a float', () => {
    expect(readingLine('air_temperature', tagSet(TAGS), 21, 1764000000123)).toStrictEqual(
      'air_temperature,department=environment,device=aq-1,device_type=air_quality,district=Altstadt,source=mqtt value=21.0 1764000000123',
    );
  });

  it('keeps decimals as they are', () => {
    expect(readingLine('pm2_5', ',device=d', 12.34, 1)).toStrictEqual('pm2_5,device=d value=12.34 1');
  });

  it('writes zero and negative integers as floats', () => {
    expect(readingLine('rssi', ',device=d', -97, 5)).toStrictEqual('rssi,device=d value=-97.0 5');
    expect(readingLine('rssi', ',device=d', 0, 5)).toStrictEqual('rssi,device=d value=0.0 5');
    expect(readingLine('rssi', ',device=d', -0.5, 5)).toStrictEqual('rssi,device=d value=-0.5 5');
  });

  it('writes a line without tags when the tag set is empty', () => {
    expect(readingLine('co2', '', 420, 1764000000000)).toStrictEqual('co2 value=420.0 1764000000000');
  });

  it('escapes commas and spaces in the measurement but not equals signs', () => {
    expect(readingLine('a b,c=d', '', 1.5, 7)).toStrictEqual('a\\ b\\,c=d value=1.5 7');
  });
});

describe('control characters never end a line', () => {
  it('replaces a line break in a tag value, so a district cannot forge a point into another measurement', () => {
    const line = readingLine('pm10', tagSet({ ...TAGS, district: 'x\npm2_5' }), 12, 1764000000000);
    expect(line).toStrictEqual(
      'pm10,department=environment,device=aq-1,device_type=air_quality,district=x\uFFFDpm2_5,source=mqtt value=12.0 1764000000000',
    );
    expect(line.split('\n')).toHaveLength(1);
  });

  it('replaces CR, NUL, tab, DEL and every other C0 control character in tags, keys and measurements', () => {
    const controls = `${String.fromCharCode(...Array.from({ length: 32 }, (_, i) => i))}\u007f`;
    expect(escapeTag(`a${controls}b`)).toStrictEqual(`a${'\uFFFD'.repeat(33)}b`);
    expect(escapeMeasurement('pm\r\n10')).toStrictEqual('pm\uFFFD\uFFFD10');
    expect(tagSet({ 'no\nde': 'a\rb' })).toStrictEqual(',no\uFFFDde=a\uFFFDb');
    expect(fieldSet({ 'x\ny': intValue(1) })).toStrictEqual('x\uFFFDy=1i');
    expect(stringValue('a\n"b"\\')).toStrictEqual('"a\uFFFD\\"b\\"\\\\"');
  });

  it('escapes the specials of each position and leaves plain text as it is', () => {
    expect(escapeTag('plain_id-1.2')).toStrictEqual('plain_id-1.2');
    expect(escapeTag('a,b=c d\\')).toStrictEqual('a\\,b\\=c\\ d\\\\');
    expect(escapeMeasurement('a,b=c d')).toStrictEqual('a\\,b=c\\ d');
  });
});

describe('field values', () => {
  it('writes floats with a decimal point, and huge integral floats in exponent form InfluxDB accepts', () => {
    expect(floatValue(21)).toStrictEqual('21.0');
    expect(floatValue(-0.5)).toStrictEqual('-0.5');
    expect(floatValue(1e-7)).toStrictEqual('1e-7');
    expect(floatValue(1e21)).toStrictEqual('1e+21');
    expect(floatValue(-1.5e300)).toStrictEqual('-1.5e+300');
    expect(floatValue(999999999999999900000)).toStrictEqual('999999999999999900000.0');
  });

  it('writes integers with the i suffix, truncated', () => {
    expect(intValue(42)).toStrictEqual('42i');
    expect(intValue(-3.7)).toStrictEqual('-3i');
  });
});

describe('pointLine and readingLine', () => {
  it('joins measurement, tags, fields in their given order, and the time', () => {
    expect(
      pointLine('sus_spool', tagSet({ node: 'n 1' }), fieldSet({ depth: intValue(10), age: floatValue(1.5) }), 7),
    ).toStrictEqual('sus_spool,node=n\\ 1 depth=10i,age=1.5 7');
  });

  it('adds the flags of a flagged reading as a string field after value', () => {
    expect(readingLine('pm10', ',device=d', 900, 5, ['out_of_range', 'time_replaced'])).toStrictEqual(
      'pm10,device=d value=900.0,flags="out_of_range,time_replaced" 5',
    );
    expect(readingLine('pm10', ',device=d', 9, 5, [])).toStrictEqual('pm10,device=d value=9.0 5');
  });

  it('sorts tag keys and leaves out null and undefined values', () => {
    expect(tagSet({ z: 'last', a: 'first', m: null, n: undefined })).toStrictEqual(',a=first,z=last');
  });
});

describe('lineTags', () => {
  it('reads back the tags tagSet wrote, whatever they hold (control characters as U+FFFD)', () => {
    const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(text, fc.dictionary(text, text, { maxKeys: 5 }), (measurement, tags) => {
        const line = pointLine(measurement, tagSet(tags), 'value=1.0', 1);
        const clean = (s: string) =>
          [...s].map((ch) => (ch.charCodeAt(0) < 0x20 || ch === '\u007f' ? '\uFFFD' : ch)).join('');
        const expected = new Map(
          Object.keys(tags)
            .sort()
            .filter((k) => tags[k] !== '')
            .map((k) => [clean(k), clean(tags[k]!)]),
        );
        expect(lineTags(line)).toStrictEqual(expected);
        expect(line.split('\n')).toHaveLength(1);
      }),
      { numRuns: 500, seed: 11 },
    );
  });
});
