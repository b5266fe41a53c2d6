import { describe, expect, it } from 'vitest';
import type { ReadingTags } from '../../../services/common/reading.ts';
import { readingLine, tagSet } from '../../../services/ingest/line-protocol.ts';

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
