// Types for the parts of @lhncbc/ucum-lhc we use (the package ships none).
declare module '@lhncbc/ucum-lhc' {
  interface ConversionResult {
    status: string;
    magnitude?: number;
    unitToExp?: Record<string, number>;
    fromUnitIsSpecial?: boolean;
  }
  interface UcumLhcUtils {
    convertToBaseUnits(unit: string, value: number): ConversionResult;
  }
  const ucum: { UcumLhcUtils: { getInstance(): UcumLhcUtils } };
  export default ucum;
}
