import { describe, expect, it } from 'vitest';
import { toCsv } from '../../../services/api/csv.ts';

describe('CSV exports', () => {
  it('neutralises text a spreadsheet would run as a formula, and leaves numbers alone', () => {
    const rows = [
      { district: '=HYPERLINK("http://evil.example","x")', value: -5 },
      { district: '+49 Nord', value: 1.5 },
      { district: '-Sued', value: 0 },
      { district: '@SUM(A1:A9)', value: 2 },
      { district: '\tTab', value: 3 },
      { district: '\rCR', value: 4 },
      { district: 'Nord=Mitte', value: 5 },
    ];
    expect(toCsv(['district', 'value'], rows)).toBe(
      [
        'district,value',
        `"'=HYPERLINK(""http://evil.example"",""x"")",-5`,
        "'+49 Nord,1.5",
        "'-Sued,0",
        "'@SUM(A1:A9),2",
        "'\tTab,3",
        `"'\rCR",4`,
        'Nord=Mitte,5',
        '',
      ].join('\r\n'),
    );
  });
});
