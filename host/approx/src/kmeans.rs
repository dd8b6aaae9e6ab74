pub struct KmeansFit;
pub fn kmeans() {}
pub fn kmeans_interpolation() {}
