pub struct PowerOfTwoFit;
pub struct PowerOfTwoOptions;
pub fn fit_power_of_two() {}
