/**
 * The demo city: its departments and districts (names, centres). Data only; the device types say which
 * departments run them and in which districts they stand.
 */
// ---------------------------------------------------------------------------------------
// Departments and districts
// ---------------------------------------------------------------------------------------

export type DepartmentId = 'environment' | 'traffic' | 'parks' | 'drainage' | 'waste';

export interface Department {
  readonly id: DepartmentId;
  readonly name: string;
}

export const DEPARTMENTS: readonly Department[] = [
  { id: 'environment', name: 'Environment Office' },
  { id: 'traffic', name: 'Traffic & Mobility Department' },
  { id: 'parks', name: 'Parks & Green Spaces Department' },
  { id: 'drainage', name: 'Drainage & Flood Protection' },
  { id: 'waste', name: 'Waste Management & City Cleaning' },
];

export interface District {
  /** Slug used in device ids: lowercase ASCII, umlauts transliterated. */
  readonly id: string;
  readonly name: string;
  /** Centre of the district (WGS84). */
  readonly lat: number;
  readonly lon: number;
}

export const DISTRICTS: readonly District[] = [
  { id: 'altstadt', name: 'Altstadt', lat: 48.4914, lon: 9.2106 },
  { id: 'nordstadt', name: 'Nordstadt', lat: 48.503, lon: 9.208 },
  { id: 'weststadt', name: 'Weststadt', lat: 48.49, lon: 9.193 },
  { id: 'suedstadt', name: 'Südstadt', lat: 48.479, lon: 9.214 },
  { id: 'oststadt', name: 'Oststadt', lat: 48.493, lon: 9.229 },
  { id: 'bahnhof', name: 'Bahnhof', lat: 48.4958, lon: 9.2015 },
  { id: 'industriegebiet', name: 'Industriegebiet', lat: 48.508, lon: 9.185 },
  { id: 'stadtpark', name: 'Stadtpark', lat: 48.485, lon: 9.225 },
];

export type DistrictId =
  | 'altstadt'
  | 'nordstadt'
  | 'weststadt'
  | 'suedstadt'
  | 'oststadt'
  | 'bahnhof'
  | 'industriegebiet'
  | 'stadtpark';
