import { type CountryResponse, open } from 'maxmind';

/** An address's ISO country code, or undefined when the database does not know it. */
export type CountryLookup = (address: string) => string | undefined;

/**
 * Opens the operator's MMDB file (GeoLite2-Country, DB-IP's, or a city database: they all carry
 * `country.iso_code`). The reader keeps the file in memory and answers from its own cache.
 */
export async function openCountryLookup(file: string): Promise<CountryLookup> {
  const reader = await open<CountryResponse>(file);
  return (address) => {
    try {
      return reader.get(address)?.country?.iso_code;
    } catch {
      // Not an address the reader takes (a Unix socket peer in tests): no country.
      return undefined;
    }
  };
}
