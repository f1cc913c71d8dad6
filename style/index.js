import './base.css';
import './deployments.css';
