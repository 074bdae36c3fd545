import { ScheduleError, sweepPeriodMs } from '../../shared/renewal/sweepSchedule';

describe('sweepPeriodMs', () => {
  test.each([
    ['0 */5 * * * *', 5 * 60_000],
    ['0 */15 * * * *', 15 * 60_000],
    ['*/30 * * * * *', 30_000],
    ['0 0 * * * *', 3_600_000],
    ['0 0,10,40 * * * *', 30 * 60_000],
    ['0 0 */6 * * *', 6 * 3_600_000],
    ['0 0 9-17 * * *', 16 * 3_600_000],
    ['0 5 * * * *', 3_600_000],
  ])('when the schedule is %s, then the longest gap is %i ms', (schedule, expected) => {
    expect(sweepPeriodMs(schedule)).toBe(expected);
  });

  test.each([
    ['*/5 * * * *', /six fields/],
    ['0 */5 * * * 1-5', /every day/],
    ['0 70 * * * *', /out of range/],
    ['0 x * * * *', /not understood/],
  ])('when the schedule is %s, then it is rejected with a reason', (schedule, reason) => {
    expect(() => sweepPeriodMs(schedule)).toThrow(ScheduleError);
    expect(() => sweepPeriodMs(schedule)).toThrow(reason);
  });
});
