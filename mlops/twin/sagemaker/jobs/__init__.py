"""SageMaker training and processing jobs that run for real, as the SageMaker platform and the
scikit-learn framework container run them (moto marks them Completed at once)."""
