import { describe, expect, it } from 'vitest';
import { checkCompatibility, kernelRequirement, seriesOf } from '../../src/kernels/compat.js';

describe('the Spyder / spyder-kernels table', () => {
  it('reads major.minor from release, pre-release and odd versions', () => {
    expect(seriesOf('6.0.3')).toBe('6.0');
    expect(seriesOf('6.1.0a2')).toBe('6.1');
    expect(seriesOf('05.04')).toBe('5.4');
    expect(seriesOf('six')).toBeNull();
  });

  it('names the series and the conda spec each known Spyder needs', () => {
    expect(kernelRequirement('5.4.3')).toEqual({
      spyder: '5.4',
      series: '2.4',
      spec: 'spyder-kernels>=2.4,<2.5',
    });
    expect(kernelRequirement('6.0.0')?.series).toBe('3.0');
    expect(kernelRequirement('6.1.1')?.spec).toBe('spyder-kernels>=3.1,<3.2');
    expect(kernelRequirement('4.2.5')).toBeNull();
    expect(kernelRequirement('7.0')).toBeNull();
  });

  it('accepts the matching series only', () => {
    expect(checkCompatibility('5.4.3', '2.4.2').verdict).toBe('compatible');
    expect(checkCompatibility('5.5.0', '2.4.2').verdict).toBe('incompatible');
    expect(checkCompatibility('6.0.1', '2.4.2')).toMatchObject({
      verdict: 'incompatible',
      requirement: { series: '3.0' },
    });
    expect(checkCompatibility('6.0.1', '3.0.0b1').verdict).toBe('compatible');
    expect(checkCompatibility('6.0.1', null).verdict).toBe('incompatible');
    expect(checkCompatibility('9.9', '2.4.2').verdict).toBe('unknown_spyder');
  });
});
